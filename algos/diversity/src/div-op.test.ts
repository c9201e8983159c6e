import '@tensorflow/tfjs-backend-cpu';
import { PRIMITIVES } from '@tsnas/algo-darts';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from './__tests__/tiny.js';
import type { DivOp, OpActivation } from './div-op.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const edgeOps = (m: ReturnType<typeof tinyModel>['model']) =>
  m.cells[0].nodes[0].edges.map((e) => e.op as DivOp);

describe('DivOp', () => {
  it('has the 8 DARTS primitives, none last, and one alpha vector per edge', () => {
    const { model } = tinyModel();
    const [op] = edgeOps(model);
    expect(op.primitives).toEqual([...PRIMITIVES]);
    expect(op.primitives.at(-1)).toBe('none');
    expect(model.archParams().size).toBe(2);
    for (const a of op.alphaValues()!) expect(Math.abs(a)).toBeLessThan(0.01);
    model.dispose();
  });

  it('forward is the softmax-weighted sum of the primitives, and hands the 7 outputs to a collector', () => {
    const { model } = tinyModel();
    const [op] = edgeOps(model);
    op.archParams()!
      .get('alphas')
      .assign(tf.tensor1d([0.5, -1, 2, 0.1, 0, 0.3, -0.2, 1]));
    const x = tf.randomNormal([2, 4, 4, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    let seen: OpActivation[] = [];
    op.collector = (acts) => {
      seen = acts.map((a) => ({ primitive: a.primitive, output: tf.keep(tf.clone(a.output)) }));
    };
    const y = op.forward(x, false);
    op.collector = null;
    expect(seen.map((a) => a.primitive)).toEqual(PRIMITIVES.filter((p) => p !== 'none'));
    const w = op.weights()!;
    const expected = tf.addN(seen.map((a) => tf.mul(a.output, w[PRIMITIVES.indexOf(a.primitive as never)])));
    expect(tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0]).toBeLessThan(1e-5);
    // The collected outputs are the ops' own outputs.
    const direct = op.op('sep_conv_3x3').forward(x, false);
    const got = seen.find((a) => a.primitive === 'sep_conv_3x3')!.output;
    expect(tf.max(tf.abs(tf.sub(direct, got))).dataSync()[0]).toBeLessThan(1e-6);
    model.dispose();
  });

  it('with noalpha it has no arch params and sums the primitives plainly', () => {
    const { model, desc } = tinyModel({ noalpha: true });
    expect(desc.cellDescs()[0].nodes()[0].edges[0].opDesc.params.noalpha).toBe(true);
    expect(model.archParams().size).toBe(0);
    const [op] = edgeOps(model);
    expect(op.alphaValues()).toBeNull();
    const x = tf.randomNormal([1, 4, 4, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
    const y = op.forward(x, false);
    const expected = tf.addN(PRIMITIVES.filter((p) => p !== 'none').map((p) => op.op(p).forward(x, false)));
    expect(tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0]).toBeLessThan(1e-5);
    expect(() => op.finalize()).toThrow(/noalpha/);
    expect(op.ops().every((o) => Number.isNaN(o.weight))).toBe(true);
    model.dispose();
  });

  it('finalize keeps the top primitive other than none, as MixedOp', () => {
    const { model } = tinyModel();
    const [op] = edgeOps(model);
    // `none` has the highest alpha but is never chosen.
    op.archParams()!
      .get('alphas')
      .assign(tf.tensor1d([0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.6, 5]));
    const { desc, rank } = op.finalize();
    expect(desc.name).toBe('sep_conv_3x3');
    expect(rank).toBeCloseTo(op.weights()![3], 6);
    expect(op.ops()[0].op.desc.name).toBe('none');
    expect(op.canDropPath()).toBe(false);
    model.dispose();
  });
});
