// Training kernels that the wasm backend lacks, registered under tfjs's own kernel names so that
// tfjs's gradient definitions (and tf.variableGrads) use them unchanged.
import * as tf from '@tensorflow/tfjs-core';
import {
  convFilterGrad,
  depthwiseConvFilterGrad,
  depthwiseConvInputGrad,
  convInputGrad,
  oneHotExact,
} from './conv-grads.js';
import { composite } from './composite.js';
import { maxPoolInputGrad } from './pool-grads.js';
import { offsetOf, simdKernels, type WasmBackendLike } from './simd.js';

/** wasm's own kernels that we replaced and delegate to outside our fast paths. */
const natives = new Map<string, tf.KernelConfig>();

type Shape4 = [number, number, number, number];

/** A native wasm kernel we replaced, for the cases our kernels do not cover. */
function delegate(kernelName: string, args: Parameters<tf.KernelFunc>[0]) {
  const native = natives.get(kernelName);
  if (native == null) throw new Error(`@tsnas/backend: wasm has no ${kernelName} kernel to fall back on`);
  return native.kernelFunc(args);
}

function sizeOf(t: tf.TensorInfo): number {
  return tf.util.sizeFromShape(t.shape);
}

/** The output tensor a SIMD kernel writes into. */
function output(args: Parameters<tf.KernelFunc>[0], shape: number[]): tf.TensorInfo {
  return (args.backend as unknown as WasmBackendLike).makeOutput(shape, 'float32');
}

function requireSimd(args: Parameters<tf.KernelFunc>[0], kernelName: string) {
  const simd = simdKernels(args.backend);
  if (simd == null) throw new Error(`@tsnas/backend: ${kernelName} needs the SIMD module`);
  return simd;
}

/**
 * Whether our kernel `kernelName` is the one registered for wasm and can run now: the current
 * backend is wasm and the SIMD module is loaded. The `...Available()` checks callers use.
 */
function ourSimdKernelRuns(kernelName: string): boolean {
  return tf.getBackend() === 'wasm' && isOurWasmKernel(kernelName) && simdKernels(tf.backend()) != null;
}

function requireNhwc(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat != null && dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm (@tsnas/backend): only NHWC is supported, got ${dataFormat}`);
  }
}

const conv2DBackpropFilter: tf.KernelFunc = (args) =>
  composite(args, ({ x, dy }) => {
    const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    requireNhwc(tf.Conv2DBackpropFilter, attrs.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    return convFilterGrad(x as tf.Tensor4D, dy as tf.Tensor4D, attrs.filterShape, info);
  });

/** The geometry arguments of simd/kernels.c's convolution kernels, from tfjs's conv info. */
function convGeometry(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/** float32 NHWC tensors with channel multiplier 1: the case the SIMD kernels cover. */
function simdDepthwise(info: tf.backend_util.Conv2DInfo, ...tensors: tf.TensorInfo[]): boolean {
  return (
    info.inChannels === info.outChannels &&
    info.dataFormat === 'channelsLast' &&
    tensors.every((t) => t.dtype === 'float32')
  );
}

/** A depthwise convolution's geometry from its kernel attributes (forward or either gradient). */
function depthwiseInfo(
  inputShape: Shape4,
  filterShape: Shape4,
  attrs: {
    strides: tf.FusedDepthwiseConv2DAttrs['strides'];
    pad: tf.FusedDepthwiseConv2DAttrs['pad'];
    dimRoundingMode?: tf.FusedDepthwiseConv2DAttrs['dimRoundingMode'];
    dilations?: tf.FusedDepthwiseConv2DAttrs['dilations'];
    dataFormat?: 'NHWC' | 'NCHW';
  },
) {
  return tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? 'NHWC'),
  );
}

const depthwiseBackpropInput: tf.KernelFunc = (args) => {
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const info = depthwiseInfo(attrs.inputShape, filter.shape as Shape4, attrs);
  const simd = simdKernels(args.backend);
  if (simd != null && simdDepthwise(info, dy, filter)) {
    const dx = output(args, attrs.inputShape);
    const b = args.backend;
    simd.dw_conv_input_grad(offsetOf(b, dy), offsetOf(b, filter), offsetOf(b, dx), ...convGeometry(info));
    return dx;
  }
  return composite(args, (t) => depthwiseConvInputGrad(t.dy as tf.Tensor4D, t.filter as tf.Tensor4D, info));
};

const depthwiseBackpropFilter: tf.KernelFunc = (args) => {
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const info = depthwiseInfo(x.shape as Shape4, attrs.filterShape, attrs);
  const simd = simdKernels(args.backend);
  if (simd != null && simdDepthwise(info, x, dy)) {
    const df = output(args, attrs.filterShape);
    const b = args.backend;
    simd.dw_conv_filter_grad(offsetOf(b, x), offsetOf(b, dy), offsetOf(b, df), ...convGeometry(info));
    return df;
  }
  return composite(args, (t) =>
    depthwiseConvFilterGrad(t.x as tf.Tensor4D, t.dy as tf.Tensor4D, attrs.filterShape, info),
  );
};

/**
 * Depthwise convolution (and the fused form with a bias, no activation) in our SIMD kernel:
 * XNNPACK re-creates its operator (packing the filter) on every call, since weights change every
 * step, which costs more than the arithmetic at the channel counts of a DARTS supernet.
 */
function depthwiseForward(kernelName: string): tf.KernelFunc {
  return (args) => {
    const attrs = args.attrs as unknown as tf.FusedDepthwiseConv2DAttrs;
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const simd = simdKernels(args.backend);
    const linear = attrs.activation == null || attrs.activation === 'linear';
    if (simd != null && x != null && filter != null && linear && preluActivationWeights == null) {
      const info = depthwiseInfo(x.shape as Shape4, filter.shape as Shape4, attrs);
      const perChannelBias = bias == null || (sizeOf(bias) === info.outChannels && bias.dtype === 'float32');
      if (simdDepthwise(info, x, filter) && perChannelBias) {
        const y = output(args, info.outShape);
        const b = args.backend;
        const biasAt = bias == null ? 0 : offsetOf(b, bias);
        simd.dw_conv(offsetOf(b, x), offsetOf(b, filter), biasAt, offsetOf(b, y), ...convGeometry(info));
        return y;
      }
    }
    return delegate(kernelName, args);
  };
}

/**
 * Concatenation where every input is a run of rows (always, in row-major order): wasm's Concat
 * copies element by element in JavaScript for anything but the first axis.
 */
const concat: tf.KernelFunc = (args) => {
  const inputs = (Object.values(args.inputs) as tf.TensorInfo[]).filter((t) => sizeOf(t) > 0);
  const simd = simdKernels(args.backend);
  if (simd == null || inputs.length === 0 || inputs.some((t) => t.dtype !== 'float32')) {
    return delegate(tf.Concat, args);
  }
  const { axis } = args.attrs as unknown as tf.ConcatAttrs;
  const a = tf.util.parseAxisParam(axis, inputs[0].shape)[0];
  const shapes = inputs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, a);
  const outShape = tf.backend_util.computeOutShape(shapes, a);
  const rows = outShape.slice(0, a).reduce((p, d) => p * d, 1);
  const outRow = outShape.slice(a).reduce((p, d) => p * d, 1);
  const y = output(args, outShape);
  const b = args.backend;
  let at = offsetOf(b, y);
  for (const t of inputs) {
    const len = sizeOf(t) / rows;
    simd.copy_rows(offsetOf(b, t), len, at, outRow, rows, len);
    at += len * 4;
  }
  return y;
};

/**
 * A slice that is a run of rows (full extent on every axis but one, before which all axes are
 * full), e.g. the channel slices of a concatenation's gradient; others go to wasm's Slice.
 */
const slice: tf.KernelFunc = (args) => {
  const x = args.inputs.x as tf.TensorInfo;
  const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
  const simd = simdKernels(args.backend);
  if (simd != null && x.dtype === 'float32' && sizeOf(x) > 0) {
    const [start, extent] = tf.slice_util.parseSliceParams(x, begin, size);
    const shape = x.shape;
    const cut = shape.findIndex((d, i) => start[i] !== 0 || extent[i] !== d);
    const rowsOnly = cut >= 0 && shape.every((d, i) => i <= cut || (start[i] === 0 && extent[i] === d));
    if (rowsOnly && extent.every((d) => d > 0)) {
      const inner = shape.slice(cut + 1).reduce((p, d) => p * d, 1);
      const rows = shape.slice(0, cut).reduce((p, d) => p * d, 1);
      const y = output(args, extent);
      const b = args.backend;
      const len = extent[cut] * inner;
      simd.copy_rows(
        offsetOf(b, x) + start[cut] * inner * 4,
        shape[cut] * inner,
        offsetOf(b, y),
        len,
        rows,
        len,
      );
      return y;
    }
  }
  return delegate(tf.Slice, args);
};

/**
 * Identity (tf.clone, and the copies tfjs saves for gradients) as a new reference to the same
 * data, as the cpu backend does: tensor data is never written in place, and wasm's own kernel
 * copies every byte in JavaScript.
 */
const identity: tf.KernelFunc = (args) => {
  const x = args.inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') return delegate(tf.Identity, args);
  (args.backend as tf.KernelBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** Kernel name: training-mode BatchNorm in one call (see fusedBatchNormAvailable). */
export const BATCH_NORM_TRAIN = 'TsnasBatchNormTrain';
/** Kernel name: BatchNorm's input gradient and per-channel sums in one call. */
export const BATCH_NORM_GRAD = 'TsnasBatchNormGrad';

/**
 * Whether the fused BatchNorm kernels run on the current backend for this many channels: wasm
 * with the SIMD module, channels a multiple of 4. Callers compose tfjs ops otherwise.
 */
export function fusedBatchNormAvailable(channels: number): boolean {
  return channels % 4 === 0 && ourSimdKernelRuns(BATCH_NORM_TRAIN);
}

function bnShape(t: tf.TensorInfo): [number, number] {
  const c = t.shape[t.shape.length - 1];
  const p = sizeOf(t) / c;
  if (c % 4 !== 0 || t.dtype !== 'float32') {
    throw new Error(`@tsnas/backend: fused BatchNorm needs float32 with channels % 4 == 0, got [${t.shape}]`);
  }
  return [p, c];
}

/** inputs x, runningMean, runningVar; attrs momentum, eps -> [y, invStd, nextRunningMean, nextRunningVar]. */
const batchNormTrain: tf.KernelFunc = (args) => {
  const { x, runningMean, runningVar } = args.inputs as Record<string, tf.TensorInfo>;
  const { momentum, eps } = args.attrs as unknown as { momentum: number; eps: number };
  const simd = requireSimd(args, BATCH_NORM_TRAIN);
  const [p, c] = bnShape(x);
  const y = output(args, x.shape);
  const [invStd, nextMean, nextVar] = [0, 1, 2].map(() => output(args, [c]));
  const b = args.backend;
  simd.batch_norm_train(
    offsetOf(b, x),
    offsetOf(b, runningMean),
    offsetOf(b, runningVar),
    offsetOf(b, y),
    offsetOf(b, invStd),
    offsetOf(b, nextMean),
    offsetOf(b, nextVar),
    p,
    c,
    momentum,
    eps,
  );
  return [y, invStd, nextMean, nextVar];
};

/** inputs dy, xhat, scale -> [dx, sum(dy), sum(dy * xhat)] (sums per channel). */
const batchNormGrad: tf.KernelFunc = (args) => {
  const { dy, xhat, scale } = args.inputs as Record<string, tf.TensorInfo>;
  const simd = requireSimd(args, BATCH_NORM_GRAD);
  const [p, c] = bnShape(dy);
  const dx = output(args, dy.shape);
  const [sumDy, sumDyXhat] = [0, 1].map(() => output(args, [c]));
  const b = args.backend;
  simd.batch_norm_grad(
    offsetOf(b, dy),
    offsetOf(b, xhat),
    offsetOf(b, scale),
    offsetOf(b, dx),
    offsetOf(b, sumDy),
    offsetOf(b, sumDyXhat),
    p,
    c,
  );
  return [dx, sumDy, sumDyXhat];
};

/** Kernel name: one SGD (momentum, weight decay, Nesterov) update of one variable in one call. */
export const SGD_STEP = 'TsnasSgdStep';

/** Whether SGD_STEP runs on the current backend (wasm with the SIMD module). */
export function fusedSgdAvailable(): boolean {
  return ourSimdKernelRuns(SGD_STEP);
}

/**
 * inputs v, g, buf? (the momentum buffer; absent on the first step); attrs lr, momentum,
 * weightDecay, nesterov -> [v', buf'] ([v'] without momentum). PyTorch's update, op for op.
 */
const sgdStep: tf.KernelFunc = (args) => {
  const { v, g, buf } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const { lr, momentum, weightDecay, nesterov } = args.attrs as unknown as {
    lr: number;
    momentum: number;
    weightDecay: number;
    nesterov: boolean;
  };
  const simd = requireSimd(args, SGD_STEP);
  if (v == null || g == null || v.dtype !== 'float32' || g.dtype !== 'float32' || sizeOf(v) !== sizeOf(g)) {
    throw new Error(
      `@tsnas/backend: ${SGD_STEP} needs float32 v and g of one size, got [${v?.shape}] and [${g?.shape}]`,
    );
  }
  const b = args.backend;
  const newV = output(args, v.shape);
  const newBuf = momentum !== 0 ? output(args, v.shape) : null;
  simd.sgd_step(
    offsetOf(b, v),
    offsetOf(b, g),
    buf != null ? offsetOf(b, buf) : 0,
    offsetOf(b, newV),
    newBuf != null ? offsetOf(b, newBuf) : 0,
    sizeOf(v),
    lr,
    momentum,
    weightDecay,
    nesterov ? 1 : 0,
    buf != null ? 1 : 0,
  );
  return newBuf != null ? [newV, newBuf] : [newV];
};

/** Kernel name: sum over k of w_k * t_k, scalar w_k (inputs t0.., w0..), in one call. */
export const WEIGHTED_SUM = 'TsnasWeightedSum';
/** Kernel name: sum(a * b) as a scalar, in one call. */
export const DOT = 'TsnasDot';

/** Whether WEIGHTED_SUM and DOT run on the current backend (wasm with the SIMD module). */
export function fusedWeightedSumAvailable(): boolean {
  return ourSimdKernelRuns(WEIGHTED_SUM);
}

const weightedSumKernel: tf.KernelFunc = (args) => {
  const simd = requireSimd(args, WEIGHTED_SUM);
  const inputs = args.inputs as Record<string, tf.TensorInfo>;
  const k = Object.keys(inputs).length / 2;
  const first = inputs.t0;
  const n = sizeOf(first);
  for (let i = 0; i < k; i++) {
    const [t, w] = [inputs[`t${i}`], inputs[`w${i}`]];
    if (
      t == null ||
      w == null ||
      sizeOf(t) !== n ||
      sizeOf(w) !== 1 ||
      t.dtype !== 'float32' ||
      w.dtype !== 'float32'
    ) {
      throw new Error(
        `@tsnas/backend: ${WEIGHTED_SUM} needs float32 terms t0..t${k - 1} of one size and scalar weights`,
      );
    }
  }
  const y = output(args, first.shape);
  const b = args.backend;
  const at = offsetOf(b, y);
  for (let i = 0; i < k; i++)
    simd.scale_add(at, offsetOf(b, inputs[`t${i}`]), offsetOf(b, inputs[`w${i}`]), n, i === 0 ? 1 : 0);
  return y;
};

const dotKernel: tf.KernelFunc = (args) => {
  const simd = requireSimd(args, DOT);
  const { a, b: other } = args.inputs as Record<string, tf.TensorInfo>;
  if (sizeOf(a) !== sizeOf(other) || a.dtype !== 'float32' || other.dtype !== 'float32') {
    throw new Error(
      `@tsnas/backend: ${DOT} needs float32 tensors of one size, got [${a.shape}] and [${other.shape}]`,
    );
  }
  const out = output(args, []);
  const be = args.backend;
  simd.dot(offsetOf(be, a), offsetOf(be, other), offsetOf(be, out), sizeOf(a));
  return out;
};

/** Kernel name: ReLU's gradient, dy where x > 0 (inputs dy, x), in one call. */
export const RELU_GRAD = 'TsnasReluGrad';

/** Whether RELU_GRAD runs on the current backend (wasm with the SIMD module). */
export function fusedReluGradAvailable(): boolean {
  return ourSimdKernelRuns(RELU_GRAD);
}

const reluGrad: tf.KernelFunc = (args) => {
  const simd = requireSimd(args, RELU_GRAD);
  const { dy, x } = args.inputs as Record<string, tf.TensorInfo>;
  if (sizeOf(dy) !== sizeOf(x) || dy.dtype !== 'float32' || x.dtype !== 'float32') {
    throw new Error(
      `@tsnas/backend: ${RELU_GRAD} needs float32 dy and x of one size, got [${dy.shape}] and [${x.shape}]`,
    );
  }
  const dx = output(args, dy.shape);
  const be = args.backend;
  simd.relu_grad(offsetOf(be, dy), offsetOf(be, x), offsetOf(be, dx), sizeOf(dy));
  return dx;
};

/** Kernel name: a 1x1 convolution's filter gradient x^T dy over all pixels, [ci, co], in one call. */
export const POINTWISE_FILTER_GRAD = 'TsnasPointwiseFilterGrad';

/** Whether the native kernels (native.ts) stand in for the SIMD module's here. */
function nativeKernelsRun(): boolean {
  return tf.getBackend() === 'wasm' && simdKernels(tf.backend())?.native != null;
}

/**
 * Whether POINTWISE_FILTER_GRAD runs here (wasm) and pays at these channel counts: with the
 * native kernels always; with the SIMD module only for output channels a multiple of 4 and at
 * most 64 products per pixel (measured on the paper supernet: from 16x16 on, XNNPACK's matMul
 * wins; the SIMD kernel reads and writes the small result in L1 for every pixel).
 */
export function fusedPointwiseFilterGradAvailable(inChannels: number, outChannels: number): boolean {
  if (!ourSimdKernelRuns(POINTWISE_FILTER_GRAD)) return false;
  return nativeKernelsRun() || (outChannels % 4 === 0 && inChannels * outChannels <= 64);
}

/** The pixel count and channels of a 1x1 convolution's operands, or an error naming them. */
function pointwiseSizes(kernelName: string, a: tf.TensorInfo, b: tf.TensorInfo, bChannels: number) {
  const ca = a.shape[a.shape.length - 1];
  const p = sizeOf(a) / ca;
  if (sizeOf(b) / bChannels !== p || a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(
      `@tsnas/backend: ${kernelName} needs float32 [..., ${ca}] and [..., ${bChannels}] over the same pixels, got [${a.shape}] and [${b.shape}]`,
    );
  }
  return p;
}

/** inputs x [..., ci], dy [..., co] (same leading size) -> [ci, co]. */
const pointwiseFilterGrad: tf.KernelFunc = (args) => {
  const simd = requireSimd(args, POINTWISE_FILTER_GRAD);
  const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
  const ci = x.shape[x.shape.length - 1];
  const co = dy.shape[dy.shape.length - 1];
  const p = pointwiseSizes(POINTWISE_FILTER_GRAD, x, dy, co);
  if (simd.native == null && co % 4 !== 0) {
    throw new Error(
      `@tsnas/backend: ${POINTWISE_FILTER_GRAD} in the SIMD module needs co % 4 == 0, got [${dy.shape}]`,
    );
  }
  const dw = output(args, [ci, co]);
  const b = args.backend;
  simd.pointwise_filter_grad(offsetOf(b, x), offsetOf(b, dy), offsetOf(b, dw), p, ci, co);
  return dw;
};

/** Kernel name: a 1x1 convolution's input gradient dy w^T (inputs dy [..., co], filter [1, 1, ci, co]). */
export const POINTWISE_INPUT_GRAD = 'TsnasPointwiseInputGrad';

/** Whether POINTWISE_INPUT_GRAD runs here: wasm with the native kernels. */
export function fusedPointwiseInputGradAvailable(): boolean {
  return ourSimdKernelRuns(POINTWISE_INPUT_GRAD) && nativeKernelsRun();
}

const pointwiseInputGrad: tf.KernelFunc = (args) => {
  const simd = requireSimd(args, POINTWISE_INPUT_GRAD);
  const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const co = dy.shape[dy.shape.length - 1];
  const ci = sizeOf(filter) / co;
  if (simd.pointwise_input_grad == null) {
    throw new Error(`@tsnas/backend: ${POINTWISE_INPUT_GRAD} needs the native kernels`);
  }
  if (!Number.isInteger(ci) || filter.shape[filter.shape.length - 1] !== co || filter.dtype !== 'float32') {
    throw new Error(
      `@tsnas/backend: ${POINTWISE_INPUT_GRAD} needs a float32 filter [1, 1, ci, ${co}], got [${filter.shape}]`,
    );
  }
  if (dy.dtype !== 'float32')
    throw new Error(`@tsnas/backend: ${POINTWISE_INPUT_GRAD} needs float32 dy, got ${dy.dtype}`);
  const p = sizeOf(dy) / co;
  const dx = output(args, [...dy.shape.slice(0, -1), ci]);
  const b = args.backend;
  simd.pointwise_input_grad(offsetOf(b, dy), offsetOf(b, filter), offsetOf(b, dx), p, ci, co);
  return dx;
};

/** Kernel name: x [n, h, w, c] times a per-pixel scale [1, h, w, 1] (inputs x, scale), in one call. */
export const PIXEL_SCALE = 'TsnasPixelScale';

/**
 * Whether PIXEL_SCALE runs here: wasm with the native kernels (wasm's broadcasting Multiply walks
 * the output element by element).
 */
export function fusedPixelScaleAvailable(): boolean {
  return ourSimdKernelRuns(PIXEL_SCALE) && nativeKernelsRun();
}

const pixelScale: tf.KernelFunc = (args) => {
  const simd = requireSimd(args, PIXEL_SCALE);
  const { x, scale } = args.inputs as Record<string, tf.TensorInfo>;
  const [n, h, w, c] = x.shape;
  if (simd.pixel_scale == null) throw new Error(`@tsnas/backend: ${PIXEL_SCALE} needs the native kernels`);
  if (
    x.shape.length !== 4 ||
    scale.shape.join(',') !== `1,${h},${w},1` ||
    x.dtype !== 'float32' ||
    scale.dtype !== 'float32'
  ) {
    throw new Error(
      `@tsnas/backend: ${PIXEL_SCALE} needs float32 x [n, h, w, c] and scale [1, h, w, 1], got [${x.shape}] and [${scale.shape}]`,
    );
  }
  const y = output(args, x.shape);
  const b = args.backend;
  simd.pixel_scale(offsetOf(b, x), offsetOf(b, scale), offsetOf(b, y), n, h * w, c);
  return y;
};

/**
 * Conv2D: 1x1 stride-1 convolutions (a DARTS cell's pointwise convolutions) in the native GEMM,
 * which packs nothing; everything else in wasm's own kernel (XNNPACK).
 */
const conv2D: tf.KernelFunc = (args) => {
  const { x, filter } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as tf.Conv2DAttrs;
  const simd = simdKernels(args.backend);
  if (simd?.pointwise_conv != null && x.dtype === 'float32' && filter.dtype === 'float32') {
    const [kh, kw, ci, co] = filter.shape;
    const ones = (v: number | [number, number] | undefined) =>
      v == null || (Array.isArray(v) ? v[0] === 1 && v[1] === 1 : v === 1);
    const noPad =
      attrs.pad === 'valid' ||
      attrs.pad === 'same' ||
      (Array.isArray(attrs.pad) && attrs.pad.every(([a, b]) => a === 0 && b === 0)) ||
      attrs.pad === 0;
    if (
      kh === 1 &&
      kw === 1 &&
      x.shape.length === 4 &&
      x.shape[3] === ci &&
      ones(attrs.strides) &&
      ones(attrs.dilations) &&
      noPad &&
      (attrs.dataFormat ?? 'NHWC') === 'NHWC'
    ) {
      const y = output(args, [...x.shape.slice(0, 3), co]);
      const b = args.backend;
      simd.pointwise_conv(offsetOf(b, x), offsetOf(b, filter), offsetOf(b, y), sizeOf(x) / ci, ci, co);
      return y;
    }
  }
  return delegate(tf.Conv2D, args);
};

/** Gradient of gather (tf.gather): sums rows of x into numSegments buckets, as a one-hot matMul. */
const unsortedSegmentSum: tf.KernelFunc = (args) =>
  composite(args, ({ x, segmentIds }) => {
    const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
    const n = segmentIds.size;
    const rest = x.shape.slice(segmentIds.rank);
    const ids = tf.cast(tf.reshape(segmentIds, [n]), 'int32') as tf.Tensor1D;
    // Negative ids give all-zero one-hot rows, so their rows are dropped, as in TensorFlow.
    const assign = tf.transpose(oneHotExact(ids, numSegments, 1, 0, 'float32'));
    const rows = tf.reshape(x, [n, rest.reduce((a, b) => a * b, 1)]);
    const sums = tf.matMul(assign, tf.cast(rows, 'float32'));
    return tf.cast(tf.reshape(sums, [numSegments, ...rest]), x.dtype);
  });

/**
 * Replaces wasm's MaxPoolGrad, which gives no gradient to windows whose maximum is <= 0
 * (tfjs 4.22; MaxPoolWithArgmax and Dilation2DBackpropInput share the fault).
 */
const maxPoolGrad: tf.KernelFunc = (args) => {
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const simd = simdKernels(args.backend);
  if (simd != null && dy.dtype === 'float32' && input.dtype === 'float32') {
    const dx = output(args, input.shape);
    const b = args.backend;
    const [n, h, w, c, ho, wo, kh, kw, sh, sw, , , pt, pl] = convGeometry(info);
    simd.max_pool_grad(
      offsetOf(b, input),
      offsetOf(b, dy),
      offsetOf(b, dx),
      n,
      h,
      w,
      c,
      ho,
      wo,
      kh,
      kw,
      sh,
      sw,
      pt,
      pl,
    );
    return dx;
  }
  return composite(args, (t) =>
    maxPoolInputGrad(t.dy as tf.Tensor4D, t.input as tf.Tensor4D, t.output as tf.Tensor4D, info),
  );
};

/** wasm's Conv2DBackpropInput is a scalar C loop; a convolution of dy runs in XNNPACK. */
const conv2DBackpropInput: tf.KernelFunc = (args) =>
  composite(args, ({ dy, filter }) => {
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    requireNhwc(tf.Conv2DBackpropInput, attrs.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as Shape4,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    return convInputGrad(dy as tf.Tensor4D, filter as tf.Tensor4D, info);
  });

/** Replaces wasm's OneHot, which writes int32 data whatever dtype it is asked for. */
const oneHot: tf.KernelFunc = (args) =>
  composite(args, ({ indices }) => {
    const { depth, onValue, offValue, dtype } = args.attrs as unknown as tf.OneHotAttrs;
    return oneHotExact(indices, depth, onValue, offValue, dtype);
  });

/**
 * Sum / Mean over leading axes (batch-norm statistics reduce N, H, W of NHWC) as one XNNPACK
 * average pool over a [outer, 1] window, about 10x faster than wasm's reduction kernel, which
 * transposes the reduced axes inwards first. (A matMul with a row of ones is no faster: XNNPACK
 * repacks the big operand as weights on every call.) Other reductions go to wasm's own kernel.
 */
function leadingReduction(kernelName: string, mean: boolean): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.every((a, i) => a === i);
    const native = natives.get(kernelName);
    if (!(leading && x.dtype === 'float32') && native != null) return native.kernelFunc(args);
    return composite(args, ({ x: t }) => {
      const outer = t.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
      const kept = t.shape.slice(axes.length);
      const inner = kept.reduce((a, b) => a * b, 1);
      const rows = tf.reshape(t, [1, outer, 1, inner]) as tf.Tensor4D;
      const average = tf.avgPool(rows, [outer, 1], 1, 'valid');
      const reduced = mean ? average : tf.mul(average, outer);
      return tf.reshape(reduced, keepDims ? [...axes.map(() => 1), ...kept] : kept);
    });
  };
}

/** A kernel of ours for wasm. */
function wasmKernel(kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelConfig {
  return { kernelName, backendName: 'wasm', kernelFunc };
}

/**
 * A kernel of ours that falls back on wasm's own for some inputs: wasm's kernel still needs its
 * setup when the backend initialises.
 */
function overNative(kernelName: string, kernelFunc: tf.KernelFunc): tf.KernelConfig {
  return {
    ...wasmKernel(kernelName, kernelFunc),
    setupFunc: (backend) => natives.get(kernelName)?.setupFunc?.(backend),
  };
}

/** The kernels @tsnas/backend adds to the wasm backend, by tfjs kernel name. */
export const wasmTrainingKernels: readonly tf.KernelConfig[] = [
  wasmKernel(tf.Conv2DBackpropFilter, conv2DBackpropFilter),
  wasmKernel(tf.DepthwiseConv2dNativeBackpropInput, depthwiseBackpropInput),
  wasmKernel(tf.DepthwiseConv2dNativeBackpropFilter, depthwiseBackpropFilter),
  wasmKernel(tf.UnsortedSegmentSum, unsortedSegmentSum),
  wasmKernel(tf.MaxPoolGrad, maxPoolGrad),
  overNative(tf.Sum, leadingReduction(tf.Sum, false)),
  overNative(tf.Mean, leadingReduction(tf.Mean, true)),
  wasmKernel(tf.Conv2DBackpropInput, conv2DBackpropInput),
  wasmKernel(tf.OneHot, oneHot),
  overNative(tf.DepthwiseConv2dNative, depthwiseForward(tf.DepthwiseConv2dNative)),
  overNative(tf.FusedDepthwiseConv2D, depthwiseForward(tf.FusedDepthwiseConv2D)),
  overNative(tf.Identity, identity),
  overNative(tf.Concat, concat),
  overNative(tf.Slice, slice),
  wasmKernel(BATCH_NORM_TRAIN, batchNormTrain),
  wasmKernel(BATCH_NORM_GRAD, batchNormGrad),
  wasmKernel(SGD_STEP, sgdStep),
  wasmKernel(WEIGHTED_SUM, weightedSumKernel),
  wasmKernel(DOT, dotKernel),
  wasmKernel(RELU_GRAD, reluGrad),
  wasmKernel(POINTWISE_FILTER_GRAD, pointwiseFilterGrad),
  wasmKernel(POINTWISE_INPUT_GRAD, pointwiseInputGrad),
  wasmKernel(PIXEL_SCALE, pixelScale),
  overNative(tf.Conv2D, conv2D),
];

const ours = new WeakSet<tf.KernelConfig>(wasmTrainingKernels);

/** True when the kernel registered under this name for wasm is one of ours. */
export function isOurWasmKernel(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, 'wasm');
  return k != null && ours.has(k);
}

/**
 * Registers the wasm training kernels. Idempotent: a kernel already registered by us is left
 * alone; one registered by someone else (a later tfjs that ships its own) is replaced, because the
 * rest of tsnas relies on these semantics (dilations honoured).
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const config of wasmTrainingKernels) {
    const existing = tf.getKernel(config.kernelName, 'wasm');
    if (existing === config) continue;
    if (existing != null) {
      if (!ours.has(existing)) natives.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
