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

/** wasm's own kernels that we replaced and delegate to outside our fast paths. */
const natives = new Map<string, tf.KernelConfig>();

type Shape4 = [number, number, number, number];

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

const depthwiseBackpropInput: tf.KernelFunc = (args) =>
  composite(args, ({ dy, filter }) => {
    const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      filter.shape as Shape4,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    return depthwiseConvInputGrad(dy as tf.Tensor4D, filter as tf.Tensor4D, info);
  });

const depthwiseBackpropFilter: tf.KernelFunc = (args) =>
  composite(args, ({ x, dy }) => {
    const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as Shape4,
      attrs.filterShape,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    return depthwiseConvFilterGrad(x as tf.Tensor4D, dy as tf.Tensor4D, attrs.filterShape, info);
  });

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
const maxPoolGrad: tf.KernelFunc = (args) =>
  composite(args, ({ dy, input, output }) => {
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as Shape4,
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    return maxPoolInputGrad(dy as tf.Tensor4D, input as tf.Tensor4D, output as tf.Tensor4D, info);
  });

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

/** The kernels @tsnas/backend adds to the wasm backend, by tfjs kernel name. */
export const wasmTrainingKernels: readonly tf.KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilter },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: 'wasm',
    kernelFunc: depthwiseBackpropInput,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: 'wasm',
    kernelFunc: depthwiseBackpropFilter,
  },
  { kernelName: tf.UnsortedSegmentSum, backendName: 'wasm', kernelFunc: unsortedSegmentSum },
  { kernelName: tf.MaxPoolGrad, backendName: 'wasm', kernelFunc: maxPoolGrad },
  {
    kernelName: tf.Sum,
    backendName: 'wasm',
    kernelFunc: leadingReduction(tf.Sum, false),
    // wasm's own kernel, which we delegate to, needs its setup when the backend initialises.
    setupFunc: (backend) => natives.get(tf.Sum)?.setupFunc?.(backend),
  },
  {
    kernelName: tf.Mean,
    backendName: 'wasm',
    kernelFunc: leadingReduction(tf.Mean, true),
    setupFunc: (backend) => natives.get(tf.Mean)?.setupFunc?.(backend),
  },
  { kernelName: tf.Conv2DBackpropInput, backendName: 'wasm', kernelFunc: conv2DBackpropInput },
  { kernelName: tf.OneHot, backendName: 'wasm', kernelFunc: oneHot },
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
