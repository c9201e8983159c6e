// BatchNorm2d in training mode on wasm: the fused SIMD kernels (@tsnas/backend's BATCH_NORM_TRAIN
// and BATCH_NORM_GRAD) against the composition of tfjs ops they replace, and against the cpu
// backend; running statistics, output, input gradient and affine parameter gradients.
import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { fusedBatchNormAvailable, initBackend, setSimdKernelsEnabled } from '@tsnas/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from './__tests__/fixtures.js';
import { expectClose } from './__tests__/reference.js';
import { BatchNorm2d } from './index.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});
afterAll(async () => {
  setSimdKernelsEnabled(true);
  await useCpu();
});

interface BnRun {
  y: number[];
  dx: number[];
  dGamma: number[];
  dBeta: number[];
  runningMean: number[];
  runningVar: number[];
}

/** Two training steps of a fresh BatchNorm2d on a fixed input; the second one's results. */
function run(affine: boolean, shape: [number, number, number, number]): BnRun {
  return tf.tidy(() => {
    const c = shape[3];
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor4d(
      Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 3 + (i % c)),
      shape,
    );
    const w = tf.tensor4d(
      Array.from({ length: size }, (_, i) => Math.cos(i * 0.11)),
      shape,
    );
    const bn = new BatchNorm2d(c, affine);
    if (bn.gamma && bn.beta) {
      bn.gamma.assign(tf.linspace(0.5, 1.5, c));
      bn.beta.assign(tf.linspace(-0.2, 0.3, c));
    }
    bn.forward(x, true);
    const vars = bn.gamma && bn.beta ? [bn.gamma, bn.beta] : [];
    let y: tf.Tensor = tf.scalar(0);
    const loss = () => {
      y = tf.keep(bn.forward(x, true));
      return tf.sum(tf.mul(y, w)) as tf.Scalar;
    };
    let grads: Record<string, tf.Tensor> = {};
    if (vars.length > 0) grads = tf.variableGrads(loss, vars).grads;
    else loss();
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(bn.forward(t as tf.Tensor4D, true), w)))(x);
    const out = {
      y: Array.from(y.dataSync()),
      dx: Array.from(dx.dataSync()),
      dGamma: affine ? Array.from(grads[bn.gamma!.name].dataSync()) : [],
      dBeta: affine ? Array.from(grads[bn.beta!.name].dataSync()) : [],
      runningMean: Array.from(bn.runningMean.dataSync()),
      runningVar: Array.from(bn.runningVar.dataSync()),
    };
    bn.dispose();
    return out;
  });
}

function expectRunsClose(a: BnRun, b: BnRun, tol: number): void {
  for (const key of Object.keys(a) as (keyof BnRun)[]) {
    const scale = Math.max(1e-6, ...b[key].map(Math.abs));
    try {
      expectClose(
        a[key].map((v) => v / scale),
        b[key].map((v) => v / scale),
        tol,
      );
    } catch (e) {
      throw new Error(`${key}: ${(e as Error).message}`);
    }
  }
}

describe('BatchNorm2d on wasm with the fused kernels', () => {
  it.each([
    [true, [4, 5, 6, 8]],
    [false, [4, 5, 6, 8]],
    [true, [2, 28, 28, 4]],
    [false, [3, 3, 3, 16]],
  ] as [boolean, [number, number, number, number]][])(
    'affine=%s %j matches the composite and cpu',
    async (affine, shape) => {
      await tf.setBackend('wasm');
      expect(fusedBatchNormAvailable(shape[3])).toBe(true);
      const fused = run(affine, shape);
      setSimdKernelsEnabled(false);
      expect(fusedBatchNormAvailable(shape[3])).toBe(false);
      const composite = run(affine, shape);
      setSimdKernelsEnabled(true);
      await useCpu();
      const cpu = run(affine, shape);
      await tf.setBackend('wasm');
      expectRunsClose(fused, composite, 1e-5);
      expectRunsClose(fused, cpu, 1e-5);
    },
  );

  it('is not used for channel counts that are not a multiple of 4, or off wasm', async () => {
    await tf.setBackend('wasm');
    expect(fusedBatchNormAvailable(6)).toBe(false);
    await useCpu();
    expect(fusedBatchNormAvailable(8)).toBe(false);
  });
});
