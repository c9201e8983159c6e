import * as tf from '@tensorflow/tfjs-core';
import { fusedWeightedSumAvailable, initBackend } from '@tsnas/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { ramp, useCpu } from '../__tests__/fixtures.js';
import { expectClose } from '../__tests__/reference.js';
import { avgPoolExcludePad, concatChannels, identity, maxPool, sumOf, weightedSum } from './fused-ops.js';

beforeAll(useCpu);

/** Loss weights unrelated to the ramp inputs. */
function weightsLike(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.61 + 0.2) * (1 + (i % 3))),
    shape,
  );
}

/** Gradients of sum(f(xs) * r) with respect to every x. */
function grads(f: (xs: tf.Tensor4D[]) => tf.Tensor, xs: tf.Tensor4D[]): Float32Array[] {
  return tf.tidy(() => {
    const r = weightsLike(f(xs).shape);
    const g = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(f(ts as tf.Tensor4D[]), r)))(xs);
    return g.map((t) => Float32Array.from(t.dataSync()));
  });
}

function expectSameGrads(a: Float32Array[], b: Float32Array[], tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  a.forEach((g, i) => {
    const scale = Math.max(...Array.from(b[i], Math.abs), 1e-6);
    expectClose(
      Array.from(g, (v) => v / scale),
      Array.from(b[i], (v) => v / scale),
      tol,
    );
  });
}

/** The pre-fusion avg pool: zero-pad, average the full window, rescale by k*k / real count. */
function plainAvgPool(x: tf.Tensor4D, k: number, s: number, p: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const padded = tf.pad(x, [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ]);
  const y = tf.avgPool(padded, k, s, 'valid');
  const count = (size: number, i: number) => Math.min(i * s - p + k, size) - Math.max(i * s - p, 0);
  const [, ho, wo] = y.shape;
  const scale = new Float32Array(ho * wo);
  for (let i = 0; i < ho; i++)
    for (let j = 0; j < wo; j++) scale[i * wo + j] = (k * k) / (count(h, i) * count(w, j));
  return tf.mul(y, tf.tensor4d(scale, [1, ho, wo, 1]));
}

describe('fused pools, sums and concats have the gradients of the plain tfjs ops (cpu)', () => {
  for (const size of [7, 8]) {
    for (const s of [1, 2]) {
      it(`avg_pool_3x3 (count_include_pad=False) at stride ${s} on ${size}x${size}`, () => {
        const x = ramp([2, size, size, 3], 1);
        const fused = grads(([t]) => avgPoolExcludePad(t, 3, s, 1), [x]);
        const plain = grads(([t]) => plainAvgPool(t, 3, s, 1), [x]);
        expectSameGrads(fused, plain);
        expectClose(avgPoolExcludePad(x, 3, s, 1).dataSync(), plainAvgPool(x, 3, s, 1).dataSync());
      });
      it(`max_pool_3x3 at stride ${s} on ${size}x${size}`, () => {
        const x = ramp([2, size, size, 3], 1);
        expectSameGrads(
          grads(([t]) => maxPool(t, 3, s, 1), [x]),
          grads(([t]) => tf.maxPool(t, 3, s, 1), [x]),
        );
      });
    }
  }

  it('AuxTower-style avg pool 5x5 stride 3 without padding', () => {
    const x = ramp([2, 8, 8, 3], 1);
    expectSameGrads(
      grads(([t]) => avgPoolExcludePad(t, 5, 3, 0), [x]),
      grads(([t]) => tf.avgPool(t, 5, 3, 'valid'), [x]),
    );
  });

  it('sum, channel concat and identity', () => {
    const xs = [ramp([2, 3, 3, 2], 1), ramp([2, 3, 3, 2], 0.5), ramp([2, 3, 3, 2], 2)];
    expectSameGrads(
      grads((ts) => sumOf(ts), xs),
      grads((ts) => tf.addN(ts), xs),
    );
    const ys = [ramp([2, 3, 3, 2], 1), ramp([2, 3, 3, 5], 0.5)];
    expectSameGrads(
      grads((ts) => concatChannels(ts), ys),
      grads((ts) => tf.concat(ts, 3), ys),
    );
    expect(Array.from(concatChannels(ys).dataSync())).toEqual(Array.from(tf.concat(ys, 3).dataSync()));
    expectSameGrads(
      grads(([t]) => tf.mul(identity(t), identity(t)), [xs[0]]),
      grads(([t]) => tf.mul(t, t), [xs[0]]),
    );
  });

  it('weighted sum (DARTS mixed op): gradients to the terms and to the softmax weights', () => {
    const terms = [ramp([2, 3, 3, 2], 1), ramp([2, 3, 3, 2], 0.5), ramp([2, 3, 3, 2], -2)];
    const alphas = tf.tensor1d([0.3, -0.2, 0.9]);
    const fused = (ts: tf.Tensor4D[], a: tf.Tensor) =>
      weightedSum(ts, tf.unstack(tf.softmax(a)) as tf.Scalar[]);
    const plain = (ts: tf.Tensor4D[], a: tf.Tensor) => {
      const w = tf.unstack(tf.softmax(a));
      return tf.addN(ts.map((t, k) => tf.mul(t, w[k]))) as tf.Tensor4D;
    };
    const both = (f: typeof fused) =>
      tf.tidy(() => {
        const r = weightsLike(terms[0].shape);
        const g = tf.grads((...xs: tf.Tensor[]) =>
          tf.sum(tf.mul(f(xs.slice(0, 3) as tf.Tensor4D[], xs[3]), r)),
        )([...terms, alphas]);
        return g.map((t) => Float32Array.from(t.dataSync()));
      });
    expectSameGrads(both(fused), both(plain));
    expectClose(
      tf.tidy(() => fused(terms, alphas)).dataSync(),
      tf.tidy(() => plain(terms, alphas)).dataSync(),
    );
  });

  it.each([
    [8, [2, 5, 5, 4]],
    [3, [3, 3, 3, 3]],
  ] as [number, number[]][])(
    'weighted sum of %i terms %j on wasm (SIMD kernels) matches the plain ops on cpu',
    async (k, shape) => {
      const terms = Array.from({ length: k }, (_, i) => ramp(shape, 1 - i * 0.3));
      const alphas = tf.tensor1d(Array.from({ length: k }, (_, i) => Math.sin(i)));
      const run = (f: (ts: tf.Tensor4D[], w: tf.Scalar[]) => tf.Tensor4D) =>
        tf.tidy(() => {
          const r = weightsLike(shape);
          const y = f(terms, tf.unstack(tf.softmax(alphas)) as tf.Scalar[]);
          const g = tf.grads((...xs: tf.Tensor[]) =>
            tf.sum(
              tf.mul(f(xs.slice(0, k) as tf.Tensor4D[], tf.unstack(tf.softmax(xs[k])) as tf.Scalar[]), r),
            ),
          )([...terms, alphas]);
          return [Float32Array.from(y.dataSync()), ...g.map((t) => Float32Array.from(t.dataSync()))];
        });
      await initBackend({ backend: 'wasm' });
      expect(fusedWeightedSumAvailable()).toBe(true);
      const [y, ...g] = run(weightedSum);
      await useCpu();
      const [yPlain, ...gPlain] = run((ts, w) => tf.addN(ts.map((t, i) => tf.mul(t, w[i]))) as tf.Tensor4D);
      expectClose(y, yPlain);
      expectSameGrads(g, gPlain, 1e-5);
    },
  );

  it('leave no tensor behind', () => {
    const x = ramp([2, 6, 6, 3], 1);
    const before = tf.memory().numTensors;
    grads(([t]) => sumOf([maxPool(t, 3, 2, 1), avgPoolExcludePad(t, 3, 2, 1)]), [x]);
    grads(([t]) => concatChannels([identity(t), t]), [x]);
    // The pools' reciprocal counts and box filters are cached constants.
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
    const after = tf.memory().numTensors;
    grads(([t]) => sumOf([maxPool(t, 3, 2, 1), avgPoolExcludePad(t, 3, 2, 1)]), [x]);
    expect(tf.memory().numTensors).toBe(after);
  });
});
