// Convolution gradients composed from tfjs ops that the wasm backend runs in XNNPACK (convolutions,
// matMul, transpose, pad, slice). They work on any backend; we register them for wasm, which lacks
// native kernels for them. Every function expects NHWC tensors and the forward convolution's
// geometry as computed by tfjs itself (backend_util.computeConv2DInfo), so padding, rounding,
// stride and dilation semantics are exactly those of the forward op.
import * as tf from '@tensorflow/tfjs-core';

type Shape4 = [number, number, number, number];
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
type ConvPad = 'valid' | ExplicitPadding;

/**
 * The window [top, top+height) x [left, left+width) of an NHWC tensor, as a depthwise convolution
 * with a one-hot filter (an exact copy in XNNPACK; wasm's Slice copies row by row in JavaScript).
 */
export function cropSpatial(
  t: tf.Tensor4D,
  top: number,
  left: number,
  height: number,
  width: number,
): tf.Tensor4D {
  const [, h, w, c] = t.shape;
  if (top === 0 && left === 0 && height === h && width === w) return t;
  const kh = h - height + 1;
  const kw = w - width + 1;
  const pick = new Float32Array(kh * kw * c);
  pick.fill(1, (top * kw + left) * c, (top * kw + left + 1) * c);
  return tf.depthwiseConv2d(t, tf.tensor4d(pick, [kh, kw, c, 1]), 1, 'valid');
}

/**
 * Pads (positive amounts) or crops (negative amounts) the spatial dims of an NHWC tensor. Crops
 * are applied right away; pads are returned as an explicit padding for the next convolution, so
 * XNNPACK pads on the fly instead of materialising a padded copy.
 */
function cropAndPadding(
  t: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
): { t: tf.Tensor4D; pad: ConvPad } {
  let out = t;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [, h, w] = t.shape;
    const cropTop = Math.max(0, -top);
    const cropLeft = Math.max(0, -left);
    const height = h - cropTop - Math.max(0, -bottom);
    const width = w - cropLeft - Math.max(0, -right);
    out = cropSpatial(t, cropTop, cropLeft, height, width);
  }
  const pt = Math.max(0, top);
  const pb = Math.max(0, bottom);
  const pl = Math.max(0, left);
  const pr = Math.max(0, right);
  const pad: ConvPad =
    pt + pb + pl + pr === 0
      ? 'valid'
      : [
          [0, 0],
          [pt, pb],
          [pl, pr],
          [0, 0],
        ];
  return { t: out, pad };
}

/**
 * Inserts (s-1) zeros after every pixel: [N,H,W,C] -> [N,H*sh,W*sw,C]. Callers size their padding
 * from the result, so the trailing zeros only shrink the padding that follows.
 */
function zeroInsert(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  const [n, h, w, c] = t.shape;
  const spread = tf.pad(tf.reshape(t, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.reshape(spread, [n, h * sh, w * sw, c]) as tf.Tensor4D;
}

/**
 * Gradient of a depthwise convolution with respect to its input: a depthwise convolution of the
 * (zero-inserted, for stride > 1) output gradient with the filter rotated by 180 degrees, at the
 * forward dilation.
 */
export function depthwiseConvInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const [kh, kw, c, m] = filter.shape;
  const { batchSize: n, inHeight: h, inWidth: w, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: keh, effectiveFilterWidth: kew, padInfo } = info;
  const up = zeroInsert(dy, sh, sw);
  const top = keh - 1 - padInfo.top;
  const left = kew - 1 - padInfo.left;
  const bottom = h + keh - 1 - top - up.shape[1];
  const right = w + kew - 1 - left - up.shape[2];
  const { t, pad } = cropAndPadding(up, top, bottom, left, right);
  const rotated = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * m, 1]) as tf.Tensor4D;
  const dx = tf.depthwiseConv2d(t, rotated, 1, pad, 'NHWC', [info.dilationHeight, info.dilationWidth]);
  if (m === 1) return dx;
  return tf.sum(tf.reshape(dx, [n, h, w, c, m]), 4);
}

/**
 * The input rows/cols a convolution reads, as a crop/pad of x: the window starts `pad.top` above
 * row 0 and spans (k-1)*d + (out-1)*s + 1 rows.
 */
export function readWindow(info: tf.backend_util.Conv2DInfo) {
  const needH = info.effectiveFilterHeight + (info.outHeight - 1) * info.strideHeight;
  const needW = info.effectiveFilterWidth + (info.outWidth - 1) * info.strideWidth;
  return {
    top: info.padInfo.top,
    left: info.padInfo.left,
    bottom: needH - info.padInfo.top - info.inHeight,
    right: needW - info.padInfo.left - info.inWidth,
  };
}

/**
 * Gradient of a depthwise convolution with respect to its filter. The filter gradient is the
 * correlation of x with dy per channel, summed over the batch; moving the batch into the channels
 * turns it into one depthwise convolution of x (stride = forward dilation) with dy as the filter
 * (dilation = forward stride), followed by a sum over the batch.
 */
export function depthwiseConvFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const [kh, kw, c, m] = filterShape;
  const { batchSize: n, outHeight: ho, outWidth: wo } = info;
  const win = readWindow(info);
  const cropped = cropAndPadding(x, 0, Math.min(0, win.bottom), 0, Math.min(0, win.right)).t;
  const [, hc, wc] = cropped.shape;
  const xt = tf.reshape(tf.transpose(cropped, [1, 2, 0, 3]), [1, hc, wc, n * c]) as tf.Tensor4D;
  const dyt = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [ho, wo, n * c, m]) as tf.Tensor4D;
  const pad: ConvPad =
    win.top + win.left + Math.max(0, win.bottom) + Math.max(0, win.right) === 0
      ? 'valid'
      : [
          [0, 0],
          [win.top, Math.max(0, win.bottom)],
          [win.left, Math.max(0, win.right)],
          [0, 0],
        ];
  const corr = tf.depthwiseConv2d(xt, dyt, [info.dilationHeight, info.dilationWidth], pad, 'NHWC', [
    info.strideHeight,
    info.strideWidth,
  ]);
  return tf.reshape(tf.sum(tf.reshape(corr, [kh, kw, n, c * m]), 2), filterShape);
}

/**
 * Gradient of a full convolution with respect to its filter. 1x1 filters are a matMul of the
 * (strided) input with dy; larger ones a convolution of x, with the channels moved to the batch,
 * by dy used as the filter (dilation = forward stride).
 */
export function convFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const [kh, kw, ci, co] = filterShape;
  const { batchSize: n, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const win = readWindow(info);
  if (kh === 1 && kw === 1) {
    // Only the pixels on the stride grid contribute; padded ones are zero and can be dropped.
    const padded = win.top + win.left + win.bottom + win.right !== 0 ? padTo(x, win) : x;
    const sampled =
      sh === 1 && sw === 1 ? padded : tf.stridedSlice(padded, [0, 0, 0, 0], padded.shape, [1, sh, sw, 1]);
    const xm = tf.transpose(tf.reshape(sampled, [n * ho * wo, ci]));
    return tf.reshape(tf.matMul(xm, tf.reshape(dy, [n * ho * wo, co])), filterShape);
  }
  const cropped = cropAndPadding(x, 0, Math.min(0, win.bottom), 0, Math.min(0, win.right)).t;
  const xt = tf.transpose(cropped, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, h, w, n]
  const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [ho, wo, n, co]
  const pad: ConvPad =
    win.top + win.left + Math.max(0, win.bottom) + Math.max(0, win.right) === 0
      ? 'valid'
      : [
          [0, 0],
          [win.top, Math.max(0, win.bottom)],
          [win.left, Math.max(0, win.right)],
          [0, 0],
        ];
  const corr = tf.conv2d(xt, dyt, 1, pad, 'NHWC', [sh, sw]); // [ci, kh, kw, co]
  return tf.transpose(corr, [1, 2, 0, 3]);
}

/** Materialised pad/crop of x to the convolution's read window. */
function padTo(
  x: tf.Tensor4D,
  win: { top: number; bottom: number; left: number; right: number },
): tf.Tensor4D {
  const { t, pad } = cropAndPadding(x, win.top, win.bottom, win.left, win.right);
  return pad === 'valid' ? t : tf.pad(t, pad);
}

/**
 * Gradient of a full convolution with respect to its input: a convolution of the zero-inserted
 * dy with the filter rotated by 180 degrees and its in/out channels swapped (1x1 stride-1 filters
 * reduce to a matMul).
 */
export function convInputGrad(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor4D {
  const [kh, kw, ci, co] = filter.shape;
  const { inHeight: h, inWidth: w, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: keh, effectiveFilterWidth: kew, padInfo } = info;
  const up = zeroInsert(dy, sh, sw);
  const top = keh - 1 - padInfo.top;
  const left = kew - 1 - padInfo.left;
  const bottom = h + keh - 1 - top - up.shape[1];
  const right = w + kew - 1 - left - up.shape[2];
  const { t, pad } = cropAndPadding(up, top, bottom, left, right);
  const flipped =
    kh === 1 && kw === 1
      ? (tf.reshape(tf.transpose(tf.reshape(filter, [ci, co])), [1, 1, co, ci]) as tf.Tensor4D)
      : (tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D);
  return tf.conv2d(t, flipped, 1, pad, 'NHWC', [info.dilationHeight, info.dilationWidth]);
}

/** Pads a 4-D NHWC tensor's spatial dims with a constant, cropping where an amount is negative. */
export function padOrCropWith(
  t: tf.Tensor4D,
  top: number,
  bottom: number,
  left: number,
  right: number,
  value: number,
): tf.Tensor4D {
  const { t: cropped, pad } = cropAndPadding(t, top, bottom, left, right);
  return pad === 'valid' ? cropped : tf.pad(cropped, pad, value);
}

/** Lowest finite float32: pads max-pool windows so that padding never wins or ties. */
export const LOWEST_FLOAT32 = -3.4028234663852886e38;

/** Cuts the read-window padding off a gradient with respect to the padded input. */
export function unpad(g: tf.Tensor4D, shape: Shape4, win: { top: number; left: number }): tf.Tensor4D {
  const [, h, w] = shape;
  const [, hp, wp] = g.shape;
  const top = Math.max(0, win.top);
  const left = Math.max(0, win.left);
  const kept = cropSpatial(g, top, left, Math.min(h, hp - top), Math.min(w, wp - left));
  const [, hk, wk] = kept.shape;
  if (hk === h && wk === w) return kept;
  // The window stopped short of the input's last rows/cols: they get no gradient.
  return tf.pad(kept, [
    [0, 0],
    [0, h - hk],
    [0, w - wk],
    [0, 0],
  ]);
}

/** tf.oneHot for any dtype and on/off values: where(indices == range, on, off). */
export function oneHotExact(
  indices: tf.Tensor,
  depth: number,
  onValue: number,
  offValue: number,
  dtype: tf.DataType,
): tf.Tensor {
  const hit = tf.equal(tf.expandDims(tf.cast(indices, 'int32'), -1), tf.range(0, depth, 1, 'int32'));
  return tf.where(hit, tf.fill(hit.shape, onValue, dtype), tf.fill(hit.shape, offValue, dtype));
}
