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

type Shape4 = [number, number, number, number];

/** `same`, `valid` and an uneven explicit padding: the paddings every convolution test sweeps. */
export const PADS: tf.Conv2DAttrs['pad'][] = [
  'same',
  'valid',
  [
    [0, 0],
    [2, 1],
    [0, 2],
    [0, 0],
  ],
];

/** One depthwise-convolution case of depthwiseCases, with its data and the kernels' attributes. */
export interface DepthwiseCase {
  inShape: Shape4;
  fShape: Shape4;
  x: { data: Float32Array; shape: number[] };
  f: { data: Float32Array; shape: number[] };
  dy: { data: Float32Array; shape: number[] };
  attrs: { strides: number; pad: tf.Conv2DAttrs['pad']; dilations: number };
  where: string;
}

/**
 * Every kernel size 1/3/5, stride 1/2, dilation 1/2 and padding in `pads` that tfjs accepts for an
 * input [2, h, w, c] (not stride and dilation > 1 at once; no `valid` window wider than the
 * input), with seeded x, filter and output gradient.
 */
export function depthwiseCases(
  c: number,
  h: number,
  w: number,
  pads: tf.Conv2DAttrs['pad'][],
): DepthwiseCase[] {
  const cases: DepthwiseCase[] = [];
  for (const k of [1, 3, 5])
    for (const stride of [1, 2])
      for (const dilation of [1, 2])
        for (const pad of pads) {
          if (stride > 1 && dilation > 1) continue; // tfjs refuses both at once
          if (pad === 'valid' && (k - 1) * dilation + 1 > Math.min(h, w)) continue;
          const inShape: Shape4 = [2, h, w, c];
          const fShape: Shape4 = [k, k, c, 1];
          const info = tf.backend_util.computeConv2DInfo(
            inShape,
            fShape,
            stride,
            dilation,
            pad,
            undefined,
            true,
          );
          const seed = c * 1000 + k * 100 + stride * 10 + dilation;
          cases.push({
            inShape,
            fShape,
            x: randn(inShape, seed),
            f: randn(fShape, seed + 1),
            dy: randn(info.outShape, seed + 2),
            attrs: { strides: stride, pad, dilations: dilation },
            where: `k=${k} stride=${stride} dilation=${dilation} pad=${JSON.stringify(pad)}`,
          });
        }
  return cases;
}

/** The input gradient of a depthwise case, through the registered DepthwiseConv2dNativeBackpropInput. */
export function depthwiseInputGrad(t: DepthwiseCase): tf.Tensor {
  return tf
    .engine()
    .runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: tensor(t.dy), filter: tensor(t.f) }, {
      ...t.attrs,
      inputShape: t.inShape,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** The filter gradient of a depthwise case, through the registered DepthwiseConv2dNativeBackpropFilter. */
export function depthwiseFilterGrad(t: DepthwiseCase): tf.Tensor {
  return tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: tensor(t.x), dy: tensor(t.dy) }, {
    ...t.attrs,
    filterShape: t.fShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}
