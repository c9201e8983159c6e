import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { NodeKernel, type OpKey, quantiles } from './kernel.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const KEYS: OpKey[] = [
  { edge: 0, primitive: 'max_pool_3x3' },
  { edge: 0, primitive: 'skip_connect' },
  { edge: 1, primitive: 'sep_conv_3x3' },
];

/** [B, 1, 1, 2] activations from per-sample 2-vectors. */
const act = (rows: number[][]) => tf.tensor4d(rows.flat(), [rows.length, 1, 1, 2]);

describe('NodeKernel (RBF kernel over op outputs)', () => {
  it('equals the hand-computed kernel on a small batch', () => {
    // Sample 0: f0 = (0,0), f1 = (1,0), f2 = (0,2): squared distances 1, 4, 5.
    // Sample 1: f0 = (1,1), f1 = (1,1), f2 = (3,1): squared distances 0, 4, 4.
    const k = new NodeKernel(KEYS, 1);
    const f = [
      act([
        [0, 0],
        [1, 1],
      ]),
      act([
        [1, 0],
        [1, 1],
      ]),
      act([
        [0, 2],
        [3, 1],
      ]),
    ];
    k.addBatch(f);
    const m = k.matrix();
    expect(m[0][0]).toBe(1);
    expect(m[1][1]).toBe(1);
    expect(m[0][1]).toBeCloseTo((Math.exp(-0.5) + 1) / 2, 6);
    expect(m[0][2]).toBeCloseTo(Math.exp(-2), 6);
    expect(m[1][2]).toBeCloseTo((Math.exp(-2.5) + Math.exp(-2)) / 2, 6);
    expect(m[2][1]).toBe(m[1][2]);
    expect(k.samples).toBe(2);
    tf.dispose(f);
  });

  it('uses sigma as exp(-d^2 / (2 sigma^2)) on outputs flattened per sample', () => {
    // [1, 2, 1, 2] outputs: 4 values per sample; d^2 = 1 + 1 + 4 + 0 = 6.
    const k = new NodeKernel(KEYS.slice(0, 2), 3);
    const a = tf.tensor4d([0, 0, 0, 0], [1, 2, 1, 2]);
    const b = tf.tensor4d([1, -1, 2, 0], [1, 2, 1, 2]);
    k.addBatch([a, b]);
    expect(k.matrix()[0][1]).toBeCloseTo(Math.exp(-6 / 18), 6);
    tf.dispose([a, b]);
  });

  it('averages over all samples of all batches, weighted by batch size', () => {
    const k = new NodeKernel(KEYS.slice(0, 2), 1);
    // Batch 1 (1 sample): d^2 = 2. Batch 2 (3 samples): d^2 = 0, 0, 8.
    const b1 = [act([[0, 0]]), act([[1, 1]])];
    const b2 = [
      act([
        [0, 0],
        [5, 5],
        [0, 0],
      ]),
      act([
        [0, 0],
        [5, 5],
        [2, 2],
      ]),
    ];
    k.addBatch(b1);
    k.addBatch(b2);
    const expected = (Math.exp(-1) + 1 + 1 + Math.exp(-4)) / 4;
    // The mean of the two batch means would be (e^-1 + (2 + e^-4) / 3) / 2: a different number.
    expect(Math.abs(expected - (Math.exp(-1) + (2 + Math.exp(-4)) / 3) / 2)).toBeGreaterThan(0.05);
    expect(k.matrix()[0][1]).toBeCloseTo(expected, 6);
    expect(k.samples).toBe(4);
    tf.dispose([...b1, ...b2]);
  });

  it('leaves no tensor behind', () => {
    const k = new NodeKernel(KEYS, 2);
    const f = [act([[0, 1]]), act([[1, 0]]), act([[2, 2]])];
    const before = tf.memory().numTensors;
    k.addBatch(f);
    k.addBatch(f);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(f);
  });

  it('finds rows by (edge, primitive) and labels them e<edge>:<op>', () => {
    const k = new NodeKernel(KEYS, 1);
    expect(k.rowOf({ edge: 1, primitive: 'sep_conv_3x3' })).toBe(2);
    expect(k.labels()).toEqual(['e0:max_pool_3x3', 'e0:skip_connect', 'e1:sep_conv_3x3']);
    expect(() => k.rowOf({ edge: 1, primitive: 'max_pool_3x3' })).toThrow(/e1:max_pool_3x3/);
    expect(() => new NodeKernel([KEYS[0], KEYS[0]], 1)).toThrow(/twice/);
    expect(() => new NodeKernel(KEYS, 0)).toThrow(/sigma/);
    expect(() => new NodeKernel(KEYS, 'mean' as never)).toThrow(/sigma/);
  });

  it("with sigma 'median' uses the grid width nearest the median distance, in the same pass", () => {
    // Distances 1, 2, 4 (median 2, a grid width): the kernel is the one with sigma = 2.
    const k = new NodeKernel(KEYS.slice(0, 2), 'median');
    const f = [
      act([
        [0, 0],
        [0, 0],
        [0, 0],
      ]),
      act([
        [1, 0],
        [0, 2],
        [4, 0],
      ]),
    ];
    k.addBatch(f);
    expect(k.sigma).toBe(2);
    expect(k.matrix()[0][1]).toBeCloseTo((Math.exp(-1 / 8) + Math.exp(-4 / 8) + Math.exp(-16 / 8)) / 3, 6);
    // Median 3: the nearest widths are 2^1.5 = 2.83 and 4; 2.83 is nearer in log scale.
    const k3 = new NodeKernel(KEYS.slice(0, 2), 'median');
    const g = [
      act([
        [0, 0],
        [0, 0],
        [0, 0],
      ]),
      act([
        [1, 0],
        [0, 3],
        [5, 0],
      ]),
    ];
    k3.addBatch(g);
    expect(k3.sigma).toBeCloseTo(2 ** 1.5, 12);
    const s2 = 2 * 2 ** 3;
    expect(k3.matrix()[0][1]).toBeCloseTo(
      (Math.exp(-1 / s2) + Math.exp(-9 / s2) + Math.exp(-25 / s2)) / 3,
      6,
    );
    tf.dispose([...f, ...g]);
  });

  it('reports distance quantiles', () => {
    const k = new NodeKernel(KEYS.slice(0, 2), 1);
    const f = [
      act([
        [0, 0],
        [0, 0],
        [0, 0],
      ]),
      act([
        [3, 4],
        [0, 1],
        [0, 2],
      ]),
    ];
    k.addBatch(f);
    const [min, , , median, , , max] = k.distanceQuantiles();
    expect([min, median, max].map((v) => Number(v.toFixed(4)))).toEqual([1, 2, 5]);
    expect(quantiles([4, 1, 3, 2], [0.5])).toEqual([2.5]);
    tf.dispose(f);
  });
});
