// The DARTS paper's BatchNorm after the pooling primitives of the search network
// (`model_desc.params.pool_bn: true`); Archai's behaviour, without it, stays the default.
import '@tensorflow/tfjs-backend-cpu';
import 'reflect-metadata';
import { registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinySupernet } from './__tests__/supernet.js';
import { MixedOp } from './index.js';

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

const supernet = (params: Record<string, unknown>) => tinySupernet(params);

const sizeOf = (m: Map<string, tf.Variable>) => [...m.values()].reduce((n, v) => n + v.size, 0);

describe('model_desc.params.pool_bn (the DARTS paper; Archai: off)', () => {
  it('adds a BatchNorm without parameters after each pool: same weights, two running statistics per pool', () => {
    const archai = supernet({});
    const paper = supernet({ pool_bn: true });
    expect(sizeOf(paper.weights())).toBe(sizeOf(archai.weights()));
    const extra = [...paper.buffers().keys()].filter((k) => !archai.buffers().has(k));
    // 3 cells x 5 edges (2 nodes: 2 + 3 inputs) x 2 pools x (running_mean, running_var).
    expect(extra).toHaveLength(3 * 5 * 2 * 2);
    expect(extra.every((k) => /\.ops\.[01]\.bn\.running_(mean|var)$/.test(k))).toBe(true);
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    expect(paper.forward(x, true).logits.shape).toEqual(archai.forward(x, true).logits.shape);
    archai.dispose();
    paper.dispose();
  });

  it('normalises the pool branch with batch statistics in training, and finalizes to the bare pool', () => {
    const model = supernet({ pool_bn: true });
    const edge = model.ops().find((m): m is MixedOp => m instanceof MixedOp)!;
    const [maxPool] = edge.ops().filter((o) => o.op.desc.name === 'max_pool_3x3');
    const x = tf.add(tf.mul(tf.randomNormal([4, 6, 6, 4], 0, 1, 'float32', 7), 3), 5) as tf.Tensor4D;
    const y = maxPool!.op.forward(x, true);
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    for (const m of mean.dataSync()) expect(Math.abs(m)).toBeLessThan(1e-4);
    for (const v of variance.dataSync()) expect(v).toBeCloseTo(1, 3);
    const final = maxPool!.op.finalize().desc;
    expect(final.name).toBe('max_pool_3x3');
    expect(final.params.pool_bn).toBeUndefined();
    model.dispose();
  });
});
