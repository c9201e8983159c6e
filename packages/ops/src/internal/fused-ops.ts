// Single-kernel-ish ops as fused tape nodes: what tfjs would save for their gradients (copies of
// every input on wasm, where a clone copies) is either not needed at all or kept by reference.
import * as tf from '@tensorflow/tfjs-core';
import {
  DOT,
  fusedPixelScaleAvailable,
  fusedWeightedSumAvailable,
  PIXEL_SCALE,
  WEIGHTED_SUM,
} from '@tsnas/backend';
import { alias, constants, fusedOp } from './fused.js';

/** PyTorch's output size for a window op (floor mode); functional.ts's outSize, kept import-free. */
function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/** Sum of same-shaped tensors; its gradient is dy for every input, so nothing is saved. */
export function sumOf(xs: tf.Tensor4D[]): tf.Tensor4D {
  if (xs.length === 1) return xs[0];
  return fusedOp(
    xs,
    () => tf.addN(xs),
    (dy) => xs.map(() => () => alias(dy)),
  );
}

/** A new tensor object with x's value (and data), differentiable. */
export function identity(x: tf.Tensor4D): tf.Tensor4D {
  return fusedOp(
    [x],
    () => alias(x),
    (dy) => [() => alias(dy)],
  );
}

/** Concatenation along channels; the backward slices dy, so only shapes are needed. */
export function concatChannels(xs: tf.Tensor4D[]): tf.Tensor4D {
  if (xs.length === 1) return xs[0];
  const widths = xs.map((x) => x.shape[3]);
  return fusedOp(
    xs,
    () => tf.concat(xs, 3),
    (dy) => {
      const [b, h, w] = dy.shape;
      let start = 0;
      return widths.map((c) => {
        const begin = start;
        start += c;
        return () => tf.slice(dy, [0, 0, 0, begin], [b, h, w, c]);
      });
    },
  );
}

/** PyTorch's MaxPool2d(k, stride, pad); the gradient is tfjs's registered one (saves x, y). */
export function maxPool(x: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  const attrs = { filterSize: k, strides: stride, pad } as unknown as tf.NamedAttrMap;
  return fusedOp(
    [x],
    (save) => {
      const y = tf.maxPool(x, k, stride, pad);
      save([x, y]);
      return y;
    },
    (dy, [xs, ys]) => [
      () => {
        const config = tf.getGradient(tf.MaxPool);
        if (!config) throw new Error('no gradient registered for MaxPool');
        return config.gradFunc(dy, [xs, ys], attrs).x();
      },
    ],
  );
}

/** 1 / (number of real, unpadded cells) of each window, [1, Ho, Wo, 1]. */
function inverseCounts(h: number, w: number, k: number, stride: number, pad: number): tf.Tensor4D {
  return constants.get(`invCount:${h}x${w}:${k}:${stride}:${pad}`, () => {
    const counts = (size: number) => {
      const n = outSize(size, k, stride, pad);
      return Array.from({ length: n }, (_, i) => {
        const start = i * stride - pad;
        return Math.min(start + k, size) - Math.max(start, 0);
      });
    };
    const ch = counts(h);
    const cw = counts(w);
    const data = new Float32Array(ch.length * cw.length);
    for (let i = 0; i < ch.length; i++)
      for (let j = 0; j < cw.length; j++) data[i * cw.length + j] = 1 / (ch[i] * cw[j]);
    return tf.tensor4d(data, [1, ch.length, cw.length, 1]);
  });
}

/** t times the per-pixel counts' reciprocals: one native kernel where it runs (a broadcasting Multiply on wasm). */
function perPixel(t: tf.Tensor4D, inv: tf.Tensor4D): tf.Tensor4D {
  if (fusedPixelScaleAvailable())
    return tf.engine().runKernel(PIXEL_SCALE, { x: t, scale: inv }, {}) as tf.Tensor4D;
  return tf.mul(t, inv);
}

function boxFilter(k: number, c: number): tf.Tensor4D {
  return constants.get(`box:${k}:${c}`, () => tf.ones([k, k, c, 1]) as tf.Tensor4D);
}

/**
 * PyTorch's AvgPool2d(k, stride, pad, count_include_pad=False): a box-sum (depthwise conv with
 * ones, zero padding) times the reciprocal count of real cells per window, a cached constant.
 * Linear, so its backward needs no saved tensor: dx = box-sum-transpose(dy / count).
 */
export function avgPoolExcludePad(x: tf.Tensor4D, k: number, stride: number, pad: number): tf.Tensor4D {
  const [, h, w, c] = x.shape;
  const inv = inverseCounts(h, w, k, stride, pad);
  const box = boxFilter(k, c);
  return fusedOp(
    [x],
    () => perPixel(tf.depthwiseConv2d(x, box, stride, pad), inv),
    (dy) => [
      () => {
        const scaled = perPixel(dy, inv);
        // A box filter is symmetric, so at stride 1 its transpose is the same box-sum.
        if (stride === 1) return tf.depthwiseConv2d(scaled, box, 1, pad);
        return tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: scaled, filter: box }, {
          strides: stride,
          pad,
          dilations: 1,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
      },
    ],
  );
}

/** Sum of all elements as a scalar, via a global average pool (no transpose on wasm). */
function total(t: tf.Tensor): tf.Scalar {
  const n = t.size;
  let h = Math.floor(Math.sqrt(n));
  while (n % h !== 0) h--;
  const pooled = tf.avgPool(tf.reshape(t, [1, h, n / h, 1]) as tf.Tensor4D, [h, n / h], 1, 'valid');
  return tf.mul(tf.reshape(pooled, []), n) as tf.Scalar;
}

/**
 * sum_k weights[k] * terms[k] (DARTS' mixed op) as one tape node. tfjs's mul + addN would save a
 * copy of every term twice; this keeps the terms by reference (most are saved by the ops that
 * made them anyway) and computes the weights' gradients, sum(dy * term), only when asked for.
 */
export function weightedSum(terms: tf.Tensor4D[], weights: tf.Scalar[]): tf.Tensor4D {
  if (terms.length !== weights.length || terms.length === 0) {
    throw new Error(`weightedSum: ${terms.length} terms but ${weights.length} weights`);
  }
  const k = terms.length;
  // On wasm one SIMD kernel sums all terms, and one per weight reduces dy * term (instead of k
  // products and an addN forward, and five kernels per weight gradient).
  const fused = fusedWeightedSumAvailable();
  return fusedOp(
    [...terms, ...weights],
    (save) => {
      save([...terms, ...weights]);
      if (fused) {
        const inputs: tf.NamedTensorMap = {};
        terms.forEach((t, i) => {
          inputs[`t${i}`] = t;
          inputs[`w${i}`] = weights[i];
        });
        return tf.engine().runKernel(WEIGHTED_SUM, inputs, {}) as tf.Tensor4D;
      }
      return tf.addN(terms.map((t, i) => tf.mul(t, weights[i]))) as tf.Tensor4D;
    },
    (dy, saved) => [
      ...saved.slice(0, k).map((_, i) => () => tf.mul(dy, saved[k + i])),
      ...saved
        .slice(0, k)
        .map(
          (t) => () =>
            fused ? (tf.engine().runKernel(DOT, { a: dy, b: t }, {}) as tf.Scalar) : total(tf.mul(dy, t)),
        ),
    ],
  );
}
