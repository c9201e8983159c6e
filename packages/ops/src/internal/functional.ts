// Tensor helpers with PyTorch semantics (symmetric explicit padding, floor output sizes) built only
// from tfjs ops that have gradients on every backend: tfjs cannot differentiate dilated convs,
// StridedSlice, or avgPool with padding (its AvgPoolGrad divides by the full window).
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingGradients } from '@tsnas/backend';

/** PyTorch's output size for a window op (floor mode). */
export function outSize(size: number, k: number, stride: number, pad: number, dilation = 1): number {
  return Math.floor((size + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
}

export function padHW(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ]);
}

/** `x[:, ::s, ::s]` (NHWC), built from pad + reshape + slice, which all have gradients. */
export function subsample(x: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return x;
  const [b, h, w, c] = x.shape;
  const ho = Math.ceil(h / s);
  const wo = Math.ceil(w / s);
  const xp = padHW(x, 0, ho * s - h, 0, wo * s - w);
  // [b, ho*s, wo*s, c] viewed as [b*ho, s, wo, s*c]: row 0 of each s-block, first c of each s*c run.
  const blocks = tf.reshape(xp, [b * ho, s, wo, s * c]);
  return tf.reshape(tf.slice(blocks, [0, 0, 0, 0], [b * ho, 1, wo, c]), [b, ho, wo, c]);
}

export interface ConvGeometry {
  stride: number;
  pad: number;
  dilation: number;
  depthwise: boolean;
}

function plainConv(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  stride: number,
  pad: number,
  depthwise: boolean,
): tf.Tensor4D {
  return depthwise ? tf.depthwiseConv2d(x, w, stride, pad) : tf.conv2d(x, w, stride, pad);
}

/**
 * A convolution with PyTorch's symmetric padding. Filter layout is tfjs's: [kh, kw, in, out]
 * (depthwise: [kh, kw, in, 1]). A dilated depthwise conv at stride 1 runs natively with
 * @tsnas/backend's dilation-capable gradient (4-7x faster on wasm than space-to-batch). Other
 * dilated convs, which tfjs can neither stride nor differentiate, are rewritten into undilated
 * ones: stride == dilation subsamples the padded input; stride 1 uses space-to-batch.
 */
export function conv2dPt(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const { stride, pad, dilation, depthwise } = g;
  if (dilation === 1) return plainConv(x, w, stride, pad, depthwise);
  if (depthwise && stride === 1) {
    // Idempotent; re-installs the gradient if tfjs's own (dilation 1 only) was registered since.
    registerTrainingGradients();
    return tf.depthwiseConv2d(x, w, stride, pad, 'NHWC', dilation);
  }
  if (depthwise && stridedDilationIsNative()) {
    registerTrainingGradients();
    // tf.depthwiseConv2d refuses stride and dilation together; the wasm kernel (XNNPACK) and the
    // registered gradient handle both, so call the kernel directly.
    return tf.engine().runKernel(tf.DepthwiseConv2dNative, { x, filter: w }, {
      strides: stride,
      pad,
      dilations: dilation,
      dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  }
  return dilatedByRewrite(x, w, g);
}

/** Whether the backend's depthwise kernel takes stride > 1 with dilation > 1 (wasm; tensorflow through @tsnas/backend). */
export function stridedDilationIsNative(): boolean {
  const backend = tf.getBackend();
  return backend === 'wasm' || backend === 'tensorflow';
}

/** Dilated conv from undilated ones (exported for tests). */
export function dilatedByRewrite(x: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const { stride, pad, dilation, depthwise } = g;
  const [, h, wd] = x.shape;
  const [kh, kw] = w.shape;
  if (stride === dilation) {
    // out[i] = sum_t w[t] * xpad[d*i + d*t] = valid conv of xpad[::d].
    const sub = subsample(padHW(x, pad, pad, pad, pad), dilation);
    const y = plainConv(sub, w, 1, 0, depthwise);
    // Rows of xpad[::d] past PyTorch's last window cannot occur: the sizes agree by construction.
    return y;
  }
  if (stride === 1) {
    const d = dilation;
    const hp = h + 2 * pad;
    const wp = wd + 2 * pad;
    const extraH = (d - (hp % d)) % d;
    const extraW = (d - (wp % d)) % d;
    const s2b = tf.spaceToBatchND(
      x,
      [d, d],
      [
        [pad, pad + extraH],
        [pad, pad + extraW],
      ],
    ) as tf.Tensor4D;
    const y = plainConv(s2b, w, 1, 0, depthwise);
    const qh = (hp + extraH) / d - kh + 1;
    const qw = (wp + extraW) / d - kw + 1;
    const ho = hp - d * (kh - 1);
    const wo = wp - d * (kw - 1);
    return tf.batchToSpaceND(
      y,
      [d, d],
      [
        [0, d * qh - ho],
        [0, d * qw - wo],
      ],
    ) as tf.Tensor4D;
  }
  // Any other combination: spread the kernel out with zeros (slower, but exact and differentiable).
  return plainConv(x, dilateKernel(w, dilation), stride, pad, depthwise);
}

/** [k, k, a, b] -> [(k-1)d+1, (k-1)d+1, a, b] with zeros between taps. */
export function dilateKernel(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, a, b] = w.shape;
  const gaps = tf.pad(tf.reshape(w, [kh, 1, kw, 1, a * b]), [
    [0, 0],
    [0, d - 1],
    [0, 0],
    [0, d - 1],
    [0, 0],
  ]);
  const spread = tf.reshape(gaps, [kh * d, kw * d, a, b]);
  return tf.slice(spread, [0, 0, 0, 0], [(kh - 1) * d + 1, (kw - 1) * d + 1, a, b]) as tf.Tensor4D;
}

// avgPoolExcludePad and maxPoolPt are fused tape nodes (./fused-ops.ts), re-exported here.
export { avgPoolExcludePad, maxPool as maxPoolPt } from './fused-ops.js';
