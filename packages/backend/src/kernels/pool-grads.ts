// Max-pool gradient from XNNPACK-friendly ops. wasm's own MaxPoolGrad (tfjs 4.22) ignores every
// window whose maximum is <= 0 (and is slow), and MaxPoolWithArgmax / Dilation2DBackpropInput
// share the fault, so we route the gradient ourselves.
import * as tf from '@tensorflow/tfjs-core';
import { LOWEST_FLOAT32, padOrCropWith, readWindow, unpad } from './conv-grads.js';
import { stridedSliceGrad } from './slice-grad.js';

/** Elements of `src` at positions t, t+s, t+2s, ... (n of them) along `axis` of a 4-D tensor. */
function taps(src: tf.Tensor4D, axis: 1 | 2, t: number, s: number, n: number): tf.Tensor4D {
  const begin = [0, 0, 0, 0];
  const end = [...src.shape];
  const strides = [1, 1, 1, 1];
  begin[axis] = t;
  end[axis] = t + (n - 1) * s + 1;
  strides[axis] = s;
  return tf.stridedSlice(src, begin, end, strides) as tf.Tensor4D;
}

/**
 * One-dimensional max-pool backprop along `axis`: `m` is the pooled `src` (window k, stride s,
 * no padding) and `g` its gradient. Each window's gradient goes to its first tap equal to the
 * maximum; the last tap takes what no earlier tap took, since some tap always holds the maximum.
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
  const n = m.shape[axis];
  const parts: tf.Tensor[] = [];
  let taken: tf.Tensor | undefined;
  let rest: tf.Tensor = g;
  for (let t = 0; t < k; t++) {
    let part: tf.Tensor;
    if (t < k - 1) {
      let first: tf.Tensor = tf.cast(tf.equal(taps(src, axis, t, s, n), m), 'float32');
      if (taken != null) first = tf.mul(first, tf.sub(1, taken));
      taken = taken == null ? first : tf.add(taken, first);
      part = tf.mul(g, first);
      rest = tf.sub(rest, part);
    } else {
      part = rest;
    }
    const begin = [0, 0, 0, 0];
    const end = [...src.shape];
    const strides = [1, 1, 1, 1];
    begin[axis] = t;
    end[axis] = t + (n - 1) * s + 1;
    strides[axis] = s;
    parts.push(
      stridedSliceGrad(part, src.shape, {
        begin,
        end,
        strides,
        beginMask: 0,
        endMask: 0,
        ellipsisMask: 0,
        newAxisMask: 0,
        shrinkAxisMask: 0,
      }),
    );
  }
  return tf.addN(parts) as tf.Tensor4D;
}

/**
 * Gradient of max pooling with respect to its input, with tfjs's tie rule (the first maximum of a
 * window in row-major order takes the gradient). The pool is separable (a max over columns, then
 * over rows), and so is its backprop: row routing, then column routing, k taps each instead of
 * k*k. Padding is explicit, with the lowest float, so it never wins or ties.
 */
export function maxPoolInputGrad(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const win = readWindow(info);
  const xp = padOrCropWith(x, win.top, win.bottom, win.left, win.right, LOWEST_FLOAT32);
  const z = tf.maxPool(xp, [1, kw], [1, sw], 'valid'); // column maxima of every row
  const dz = route1d(dy, z, y, 1, kh, sh);
  const dxp = route1d(dz, xp, z, 2, kw, sw);
  return unpad(dxp, x.shape, win);
}
