// Shared test helpers: run the same computation on the cpu reference backend and on wasm or
// tensorflow.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, SeededRng } from '../src/index.js';
import { tensorflowAvailability } from '../src/testing.js';

export { tensorflowAvailability };

let ready: Promise<unknown> | undefined;

/** Initialises wasm (with our kernels) once per test file; cpu is always registered. */
export function setupBackends(options: { checkKernelLeaks?: boolean } = {}): Promise<unknown> {
  // IS_TEST makes tfjs check every kernel for leaked data ids, ours included. (It also flags
  // customGrad ops such as tf.losses.softmaxCrossEntropy falsely, so not every test can use it.)
  if (options.checkKernelLeaks) tf.env().set('IS_TEST', true);
  ready ??= initBackend({ backend: 'wasm' });
  return ready;
}

/** Runs fn with `name` as the active backend and returns the values of its results. */
export async function runOn(
  name: 'cpu' | 'wasm' | 'tensorflow',
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<{ values: Float32Array[]; shapes: number[][] }> {
  await tf.setBackend(name);
  const out = tf.tidy(() => {
    const r = fn();
    return Array.isArray(r) ? r : [r];
  });
  const values = out.map((t) => t.dataSync() as Float32Array);
  const shapes = out.map((t) => t.shape);
  tf.dispose(out);
  return { values, shapes };
}

/** max |a - b| / max |b|: the error relative to the reference's largest magnitude. */
export function relError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (!Number.isFinite(diff)) return Number.POSITIVE_INFINITY;
  return diff / Math.max(scale, 1e-6);
}

/** Deterministic standard-normal data of a shape. */
export function randn(shape: number[], seed: number): { data: Float32Array; shape: number[] } {
  const rng = new SeededRng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { data, shape };
}

export function tensor(d: { data: Float32Array; shape: number[] }): tf.Tensor {
  return tf.tensor(d.data, d.shape);
}
