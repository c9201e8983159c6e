// Max-pool gradient from XNNPACK-friendly ops. wasm's own MaxPoolGrad (tfjs 4.22) ignores every
// window whose maximum is <= 0 (and is slow), and MaxPoolWithArgmax / Dilation2DBackpropInput
// share the fault, so we route the gradient ourselves.
import * as tf from '@tensorflow/tfjs-core';
import { LOWEST_FLOAT32, padOrCropWith, readWindow, unpad } from './conv-grads.js';

/** A depthwise filter of length k along `axis` that picks tap t (an exact copy). */
function tapFilter(axis: 1 | 2, k: number, t: number, channels: number): tf.Tensor4D {
  const pick = new Float32Array(k * channels);
  pick.fill(1, t * channels, (t + 1) * channels);
  return tf.tensor4d(pick, axis === 1 ? [k, 1, channels, 1] : [1, k, channels, 1]);
}

/** Pads `t` along `axis` only. */
function padAxis(t: tf.Tensor, axis: number, before: number, after: number): tf.Tensor {
  if (before === 0 && after === 0) return t;
  return tf.pad(
    t,
    t.shape.map((_, i): [number, number] => (i === axis ? [before, after] : [0, 0])),
  );
}

/**
 * One-dimensional max-pool backprop along `axis` of NHWC tensors: `m` is `src` max-pooled with
 * window k and stride s (no padding; src's length along the axis is a multiple of s) and `g` is
 * the gradient of `m`. Each window's gradient goes to its first tap equal to the maximum.
 *
 * Taps are read with one-hot depthwise convolutions (exact copies, in XNNPACK) and compared
 * through step(m - tap), which is 0 exactly where the tap holds the maximum. With q_t that
 * indicator for tap t, the running product G_t = g * q_0 * ... * q_(t-1) is the gradient not yet
 * taken before tap t, so tap t takes G_t - G_(t+1) and the last tap takes G_(k-1).
 */
function route1d(
  g: tf.Tensor4D,
  src: tf.Tensor4D,
  m: tf.Tensor4D,
  axis: 1 | 2,
  k: number,
  s: number,
): tf.Tensor4D {
  if (k === 1 && s === 1) return g;
  const c = src.shape[3];
  const n = m.shape[axis];
  const blocks = src.shape[axis] / s;
  const strides: [number, number] = axis === 1 ? [s, 1] : [1, s];
  const taken: tf.Tensor[] = [];
  let left: tf.Tensor = g;
  for (let t = 0; t < k - 1; t++) {
    const tap = tf.depthwiseConv2d(src, tapFilter(axis, k, t, c), strides, 'valid');
    const below = tf.step(tf.sub(m, tap));
    const next = tf.mul(left, below);
    taken.push(tf.sub(left, next));
    left = next;
  }
  taken.push(left);
  // Tap t of window j sits at position j*s + t = (j + floor(t/s))*s + (t mod s): gather the taps
  // of each residue r into a stream over the blocks, then interleave the s streams.
  const streams: tf.Tensor[] = [];
  for (let r = 0; r < s; r++) {
    const mine = taken
      .map((part, t) => ({ part, t }))
      .filter(({ t }) => t % s === r)
      .map(({ part, t }) => padAxis(part, axis, Math.floor(t / s), blocks - n - Math.floor(t / s)));
    if (mine.length === 0) continue;
    const stream = mine.length === 1 ? mine[0] : tf.addN(mine);
    if (s === 1) return stream as tf.Tensor4D;
    const shape = src.shape;
    const split = [...shape.slice(0, axis), blocks, 1, ...shape.slice(axis + 1)];
    const spread = padAxis(tf.reshape(stream, split), axis + 1, r, s - 1 - r);
    streams.push(tf.reshape(spread, shape));
  }
  return (streams.length === 1 ? streams[0] : tf.addN(streams)) as tf.Tensor4D;
}

/**
 * Gradient of max pooling with respect to its input, with tfjs's tie rule (the first maximum of a
 * window in row-major order takes the gradient). The pool is separable (a max over columns, then
 * over rows), and so is its backprop: row routing, then column routing, k taps each instead of
 * k*k. Padding is explicit, with the lowest float, so it never wins or ties; x is padded a little
 * further so that its extent is a multiple of the stride.
 */
export function maxPoolInputGrad(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const win = readWindow(info);
  const hp = info.inHeight + win.top + win.bottom;
  const wp = info.inWidth + win.left + win.right;
  const bottom = win.bottom + Math.ceil(hp / sh) * sh - hp;
  const right = win.right + Math.ceil(wp / sw) * sw - wp;
  const xp = padOrCropWith(x, win.top, bottom, win.left, right, LOWEST_FLOAT32);
  const z = tf.maxPool(xp, [1, kw], [1, sw], 'valid'); // column maxima of every row
  const dz = route1d(dy, z, y, 1, kh, sh);
  const dxp = route1d(dz, xp, z, 2, kw, sw);
  return unpad(dxp, x.shape, win);
}
