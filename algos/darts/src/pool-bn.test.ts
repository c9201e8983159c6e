// The DARTS paper's BatchNorm after the pooling primitives of the search network
// (`model_desc.params.pool_bn: true`); Archai's behaviour, without it, stays the default.
import '@tensorflow/tfjs-backend-cpu';
import 'reflect-metadata';
import { registerAllGradients, seedEverything } from '@tsnas/backend';
import type { ConfModelDesc } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import * as tf from '@tensorflow/tfjs-core';
import { builtinSource, createRunContainer } from '@tsnas/runner';
import { beforeAll, describe, expect, it } from 'vitest';
import { DartsModelDescBuilder } from './builder.js';
import darts, { MixedOp } from './index.js';

const SUPERNET = (params: Record<string, unknown>): ConfModelDesc => ({
  dataset: { name: 'tiny', channels: 3, n_classes: 4 },
  n_reductions: 1,
  n_cells: 3,
  max_final_edges: 2,
  model_post_op: 'pool_adaptive_avg2d',
  params,
  aux_weight: 0,
  aux_tower_stride: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
  cell: { n_nodes: 2, cell_post_op: 'concate_channels' },
});

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

function supernet(params: Record<string, unknown>) {
  const run = createRunContainer(builtinSource(darts, new URL('../package.json', import.meta.url)));
  seedEverything(3);
  const desc = new DartsModelDescBuilder().build(SUPERNET(params));
  return new Model(desc, { container: run, affine: false, droppath: false });
}

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
