// tsnas's side of the parity tests: Models and ops of @tsnas/ops on the cpu backend, with seeded,
// non-trivial weights and BN statistics, and onnxruntime-node's side. @tsnas/onnx itself needs
// neither tfjs nor tsyringe (it reads a desc and saved weights): they are test dependencies only.
import * as tfCore from '@tensorflow/tfjs-core';
import { initBackend, type NamedArray } from '@tsnas/backend';
import type { Model, ModelOptions, Op } from '@tsnas/ops';
import * as ort from 'onnxruntime-node';
import { container as rootContainer } from 'tsyringe';

type Tensor4D = Parameters<Model['forward']>[0];
type Variable = ReturnType<Model['weights']> extends Map<string, infer V> ? V : never;

export const tf = tfCore;
export const container: ModelOptions['container'] = rootContainer;

export async function useCpu(): Promise<void> {
  await initBackend({ backend: 'cpu' });
}

/** mulberry32: a small seeded generator, so every run gets the same weights and inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, next: () => number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

function assign(v: Variable, data: Float32Array): void {
  const t = tf.tensor(data, [...v.shape]);
  v.assign(t);
  t.dispose();
}

/**
 * Random weights and BN running statistics far from their initial 0 and 1, so that an exporter
 * ignoring any of them fails: BN gamma in [0.5, 1.5], beta in +-0.3, running mean in +-0.4,
 * variance in [0.3, 2.5]; conv and linear weights in +-0.5, or with `gain`, in +-gain/sqrt(fan_in)
 * (a whole network then keeps its activations, and its logits, of order 1).
 */
export function randomize(
  vars: { weights: Map<string, Variable>; buffers: Map<string, Variable> },
  seed: number,
  gain?: number,
): void {
  const next = rng(seed);
  for (const [name, v] of vars.weights) {
    const isBn = /(^|\.)bn\d*\.(weight|bias)$/.test(name);
    let bound = 0.5;
    if (gain !== undefined && !isBn) {
      const s = v.shape;
      const fanIn = s.length === 4 ? s[0] * s[1] * (name.includes('depthwise') ? 1 : s[2]) : s[0];
      bound = gain / Math.sqrt(fanIn);
    }
    const [lo, hi] = !isBn ? [-bound, bound] : name.endsWith('weight') ? [0.5, 1.5] : [-0.3, 0.3];
    assign(v, uniform(v.size, next, lo, hi));
  }
  for (const [name, v] of vars.buffers) {
    const [lo, hi] = name.endsWith('running_mean') ? [-0.4, 0.4] : [0.3, 2.5];
    assign(v, uniform(v.size, next, lo, hi));
  }
}

/** An op's or a model's variables as saved weights, each name prefixed by `prefix`. */
export function weightsOf(
  vars: { weights: Map<string, Variable>; buffers: Map<string, Variable> },
  prefix = '',
): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const [name, v] of [...vars.weights, ...vars.buffers])
    out.set(`${prefix}${name}`, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  return out;
}

export function nhwcToNchw(data: Float32Array, [b, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let n = 0; n < b; n++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((n * c + k) * h + y) * w + x] = data[((n * h + y) * w + x) * c + k];
  return out;
}

/** Runs tsnas's op in eval mode on NHWC inputs; returns its output in NCHW (or as is when rank 2). */
export function runOp(op: Op, inputs: Tensor4D[]): { data: Float32Array; shape: number[] } {
  const y = op.forward(inputs.length === 1 ? inputs[0] : inputs, false);
  const data = y.dataSync() as Float32Array;
  const shape = [...y.shape];
  y.dispose();
  if (shape.length !== 4) return { data, shape };
  return { data: nhwcToNchw(data, shape), shape: [shape[0], shape[3], shape[1], shape[2]] };
}

export async function runOnnx(
  model: Uint8Array | string,
  feeds: Record<string, { data: Float32Array; shape: number[] }>,
): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const session =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model)
      : await ort.InferenceSession.create(model);
  try {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) inputs[name] = new ort.Tensor('float32', f.data, f.shape);
    const results = await session.run(inputs);
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const [name, t] of Object.entries(results))
      out[name] = { data: t.data as Float32Array, shape: [...t.dims] };
    return out;
  } finally {
    await session.release();
  }
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Number.POSITIVE_INFINITY : m;
}
