// Convolution and pooling kernels for tfjs-node's 'tensorflow' backend that accept every padding
// tfjs does. tfjs-node 4.22 refuses anything but 'same'/'valid' in the backprop and pool kernels
// (and numeric padding everywhere), while tsnas's ops use PyTorch's explicit symmetric padding.
// TensorFlow's own ops take padding 'EXPLICIT' with `explicit_paddings` for Conv2D, its two
// backprops, the three depthwise kernels and MaxPool/MaxPoolGrad, so those call TensorFlow
// directly. AvgPool has no explicit form: it pads with zeros, pools 'valid' and rescales by the
// in-bounds count (PyTorch's count_include_pad=False, what tfjs's cpu/wasm kernels compute).
// TensorFlow's depthwise backprops refuse dilations > 1; those run on a zero-inserted filter.
import * as tf from '@tensorflow/tfjs-core';
import { composite } from './composite.js';
import { dilateFilter } from './dilate.js';

/** The parts of tfjs-node's NodeJSKernelBackend these kernels use. */
interface NativeBinding {
  TF_ATTR_INT: number;
  TF_ATTR_STRING: number;
  TF_ATTR_TYPE: number;
  TF_FLOAT: number;
}
interface OpAttr {
  name: string;
  type: number;
  value: number | number[] | string;
}
interface NativeBackend {
  binding: NativeBinding;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.TensorInfo[]): tf.Tensor;
}

type Shape4 = [number, number, number, number];
type Pair = [number, number];
type PadInfo = tf.backend_util.PadInfo;

const BACKEND = 'tensorflow';
/** tfjs-node's own kernels, for the cases handed back to them (NCHW, non-float dtypes). */
const natives = new Map<string, tf.KernelConfig>();

function native(args: Parameters<tf.KernelFunc>[0]): NativeBackend {
  return args.backend as unknown as NativeBackend;
}

function pair(v: number | Pair | undefined): Pair {
  if (v == null) return [1, 1];
  return typeof v === 'number' ? [v, v] : v;
}

function delegate(kernelName: string, args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo | tf.TensorInfo[] {
  const k = natives.get(kernelName);
  if (k == null) throw new Error(`${kernelName}: no TensorFlow kernel to fall back to`);
  return k.kernelFunc(args);
}

function nhwc(dataFormat: string | undefined): boolean {
  return dataFormat == null || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

/** TensorFlow's SAME padding before and after one dimension (before = floor(total / 2)). */
function samePads(inSize: number, stride: number, effectiveFilter: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effectiveFilter - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Whether explicit paddings are the ones SAME would choose (PyTorch's k//2 at stride 1, say). */
function isSame(info: tf.backend_util.Conv2DInfo, padInfo: PadInfo): boolean {
  const [top, bottom] = samePads(info.inHeight, info.strideHeight, info.effectiveFilterHeight);
  const [left, right] = samePads(info.inWidth, info.strideWidth, info.effectiveFilterWidth);
  return padInfo.top === top && padInfo.bottom === bottom && padInfo.left === left && padInfo.right === right;
}

/**
 * TensorFlow's padding attributes: SAME/VALID as they are; explicit paddings as SAME where they
 * equal it (TensorFlow's backprop kernels run 2-3x slower with EXPLICIT), else EXPLICIT.
 */
function paddingAttrs(
  b: NativeBinding,
  info: tf.backend_util.Conv2DInfo,
  padInfo: PadInfo = info.padInfo,
): OpAttr[] {
  if (padInfo.type === 'SAME' || padInfo.type === 'VALID') {
    return [{ name: 'padding', type: b.TF_ATTR_STRING, value: padInfo.type }];
  }
  if (isSame(info, padInfo)) return [{ name: 'padding', type: b.TF_ATTR_STRING, value: 'SAME' }];
  const { top, bottom, left, right } = padInfo;
  return [
    { name: 'padding', type: b.TF_ATTR_STRING, value: 'EXPLICIT' },
    { name: 'explicit_paddings', type: b.TF_ATTR_INT, value: [0, 0, top, bottom, left, right, 0, 0] },
  ];
}

function convAttrs(b: NativeBinding, info: tf.backend_util.Conv2DInfo): OpAttr[] {
  return [
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'strides', type: b.TF_ATTR_INT, value: [1, info.strideHeight, info.strideWidth, 1] },
    ...paddingAttrs(b, info),
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'dilations', type: b.TF_ATTR_INT, value: [1, info.dilationHeight, info.dilationWidth, 1] },
  ];
}

function poolAttrs(b: NativeBinding, info: tf.backend_util.Conv2DInfo, padInfo: PadInfo): OpAttr[] {
  return [
    { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: 'ksize', type: b.TF_ATTR_INT, value: [1, info.filterHeight, info.filterWidth, 1] },
    { name: 'strides', type: b.TF_ATTR_INT, value: [1, info.strideHeight, info.strideWidth, 1] },
    ...paddingAttrs(b, info, padInfo),
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
  ];
}

/** Runs a TensorFlow op whose first or second input is a shape (input_sizes / filter_sizes). */
function withShape(shape: number[], run: (sizes: tf.Tensor) => tf.Tensor): tf.Tensor {
  const sizes = tf.tensor1d(shape, 'int32');
  try {
    return run(sizes);
  } finally {
    sizes.dispose();
  }
}

interface ConvGeometry {
  strides: number | Pair;
  dilations?: number | Pair;
  pad: tf.Conv2DAttrs['pad'];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** tfjs's Conv2DInfo of a kernel call (the backprops take no dilations but depthwise ones). */
function geometry(
  x: number[],
  filter: number[],
  a: ConvGeometry,
  depthwise: boolean,
): tf.backend_util.Conv2DInfo {
  const dilations = a.dilations ?? 1;
  return tf.backend_util.computeConv2DInfo(
    x as Shape4,
    filter as Shape4,
    a.strides,
    dilations,
    a.pad,
    a.dimRoundingMode,
    depthwise,
  );
}

/** One TensorFlow convolution op; a backprop op also takes `sized` (the shape it differentiates). */
function runConv(
  args: Parameters<tf.KernelFunc>[0],
  op: string,
  info: tf.backend_util.Conv2DInfo,
  inputs: (sizes: tf.Tensor) => tf.TensorInfo[],
  sized: number[],
): tf.Tensor {
  const be = native(args);
  return withShape(sized, (sizes) => be.executeSingleOutput(op, convAttrs(be.binding, info), inputs(sizes)));
}

const conv2D: tf.KernelFunc = (args) => {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DAttrs;
  if (!nhwc(a.dataFormat) || x.dtype !== 'float32') return delegate(tf.Conv2D, args);
  const be = native(args);
  return be.executeSingleOutput(tf.Conv2D, convAttrs(be.binding, geometry(x.shape, filter.shape, a, false)), [
    x,
    filter,
  ]);
};

const conv2DBackpropInput: tf.KernelFunc = (args) => {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  if (!nhwc(a.dataFormat)) return delegate(tf.Conv2DBackpropInput, args);
  const info = geometry(a.inputShape, filter.shape, a, false);
  return runConv(args, tf.Conv2DBackpropInput, info, (sizes) => [sizes, filter, dy], a.inputShape);
};

const conv2DBackpropFilter: tf.KernelFunc = (args) => {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (!nhwc(a.dataFormat)) return delegate(tf.Conv2DBackpropFilter, args);
  const info = geometry(x.shape, a.filterShape, a, false);
  return runConv(args, tf.Conv2DBackpropFilter, info, (sizes) => [x, sizes, dy], a.filterShape);
};

const depthwiseConv2dNative: tf.KernelFunc = (args) => {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as tf.DepthwiseConv2dNativeAttrs;
  if (!nhwc(a.dataFormat) || x.dtype !== 'float32') return delegate(tf.DepthwiseConv2dNative, args);
  const info = geometry(x.shape, filter.shape, a, true);
  const be = native(args);
  const dilated = info.dilationHeight > 1 || info.dilationWidth > 1;
  if (!dilated || nativeDilatedDepthwise !== false) {
    try {
      return be.executeSingleOutput(tf.DepthwiseConv2dNative, convAttrs(be.binding, info), [x, filter]);
    } catch (err) {
      if (!dilated) throw err;
      // Whether a dilated call is taken can depend on the kernel TensorFlow picks for the shape:
      // stop trying natively only when it has never worked.
      if (nativeDilatedDepthwise === undefined) nativeDilatedDepthwise = false;
    }
  }

  // TensorFlow's oneDNN kernel takes dilations; its Eigen kernel (TF_ENABLE_ONEDNN_OPTS=0) does not.
  return composite(
    args,
    ({ x: xt, filter: f }) =>
      tf
        .engine()
        .runKernel(
          tf.DepthwiseConv2dNative,
          { x: xt, filter: dilateFilter(f as tf.Tensor4D, info.dilationHeight, info.dilationWidth) },
          {
            ...a,
            dilations: [1, 1],
          } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
  );
};

/** false once this TensorFlow build refused a dilated depthwise forward on its first try. */
let nativeDilatedDepthwise: boolean | undefined;

const depthwiseConv2dNativeBackpropInput: tf.KernelFunc = (args) => {
  const a = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const [dh, dw] = pair(a.dilations as number | Pair);
  if (dh === 1 && dw === 1) {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const info = geometry(a.inputShape, filter.shape, a, true);
    return runConv(
      args,
      tf.DepthwiseConv2dNativeBackpropInput,
      info,
      (sizes) => [sizes, filter, dy],
      a.inputShape,
    );
  }
  // TensorFlow refuses dilations here: the same transpose on the zero-inserted filter.
  return composite(
    args,
    ({ dy, filter }) =>
      tf
        .engine()
        .runKernel(
          tf.DepthwiseConv2dNativeBackpropInput,
          { dy, filter: dilateFilter(filter as tf.Tensor4D, dh, dw) },
          { ...a, dilations: [1, 1] } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
  );
};

const depthwiseConv2dNativeBackpropFilter: tf.KernelFunc = (args) => {
  const a = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const [dh, dw] = pair(a.dilations as number | Pair);
  if (dh === 1 && dw === 1) {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const info = geometry(x.shape, a.filterShape, a, true);
    return runConv(
      args,
      tf.DepthwiseConv2dNativeBackpropFilter,
      info,
      (sizes) => [x, sizes, dy],
      a.filterShape,
    );
  }
  // The gradient of the zero-inserted filter, keeping every d-th tap.
  return composite(args, ({ x, dy }) => {
    const [kh, kw, c, m] = a.filterShape;
    const spread = [(kh - 1) * dh + 1, (kw - 1) * dw + 1, c, m];
    const full = tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
      ...a,
      dilations: [1, 1],
      filterShape: spread,
    } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
    return tf.stridedSlice(full, [0, 0, 0, 0], spread, [dh, dw, 1, 1]);
  });
};

function poolInfo(shape: number[], a: tf.MaxPoolAttrs | tf.AvgPoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
}

const maxPool: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  const a = args.attrs as unknown as tf.MaxPoolAttrs;
  if (x.dtype !== 'float32') return delegate(tf.MaxPool, args);
  const info = poolInfo(x.shape, a);
  const be = native(args);
  return be.executeSingleOutput(tf.MaxPool, poolAttrs(be.binding, info, info.padInfo), [x]);
};

const maxPoolGrad: tf.KernelFunc = (args) => {
  const { dy, input, output } = args.inputs as {
    dy: tf.TensorInfo;
    input: tf.TensorInfo;
    output: tf.TensorInfo;
  };
  const a = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = poolInfo(input.shape, a);
  const be = native(args);
  return be.executeSingleOutput(tf.MaxPoolGrad, poolAttrs(be.binding, info, info.padInfo), [
    input,
    output,
    dy,
  ]);
};

/** (window size / in-bounds count) per output pixel, as [1, outH, outW, 1]. */
function windowOverCount(info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const {
    inHeight,
    inWidth,
    outHeight,
    outWidth,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { top, left } = info.padInfo;
  const inside = (start: number, k: number, n: number) => Math.min(start + k, n) - Math.max(start, 0);
  const data = new Float32Array(outHeight * outWidth);
  for (let i = 0; i < outHeight; i++) {
    const rows = inside(i * sh - top, kh, inHeight);
    for (let j = 0; j < outWidth; j++)
      data[i * outWidth + j] = (kh * kw) / (rows * inside(j * sw - left, kw, inWidth));
  }
  return tf.tensor4d(data, [1, outHeight, outWidth, 1]);
}

function padded(info: tf.backend_util.Conv2DInfo): Array<[number, number]> {
  const { top, bottom, left, right } = info.padInfo;
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

const avgPool: tf.KernelFunc = (args) => {
  const a = args.attrs as unknown as tf.AvgPoolAttrs;
  const x = (args.inputs as { x: tf.TensorInfo }).x;
  const info = poolInfo(x.shape, a);
  if (info.padInfo.type === 'SAME' || info.padInfo.type === 'VALID' || x.dtype !== 'float32')
    return delegate(tf.AvgPool, args);
  const be = native(args);
  // TensorFlow's SAME average leaves padding out of the count, as PyTorch's count_include_pad=False.
  if (isSame(info, info.padInfo))
    return be.executeSingleOutput(tf.AvgPool, poolAttrs(be.binding, info, info.padInfo), [x]);
  return composite(args, ({ x: xt }) => {
    const pooled = tf.engine().runKernel(tf.AvgPool, { x: tf.pad(xt, padded(info)) }, {
      filterSize: [info.filterHeight, info.filterWidth],
      strides: [info.strideHeight, info.strideWidth],
      pad: 'valid',
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return tf.mul(pooled, windowOverCount(info));
  });
};

// The gradient of avgPool above: TensorFlow's AvgPoolGrad (which divides by the in-bounds count,
// as tsnas's AvgPool gradient expects of this backend) for SAME/VALID, else the transpose of
// pad -> valid pool -> rescale.
const avgPoolGrad: tf.KernelFunc = (args) => {
  const a = args.attrs as unknown as tf.AvgPoolGradAttrs;
  const input = (args.inputs as { input: tf.TensorInfo }).input;
  const info = poolInfo(input.shape, a);
  if (info.padInfo.type === 'SAME' || info.padInfo.type === 'VALID') return delegate(tf.AvgPoolGrad, args);
  const be = native(args);
  if (isSame(info, info.padInfo)) {
    const dy = (args.inputs as { dy: tf.TensorInfo }).dy;
    return withShape(input.shape, (sizes) =>
      be.executeSingleOutput(tf.AvgPoolGrad, poolAttrs(be.binding, info, info.padInfo), [sizes, dy]),
    );
  }
  return composite(args, ({ dy }) => {
    const scaled = tf.mul(dy, windowOverCount(info));
    const [b, h, w, c] = input.shape;
    const { top, bottom, left, right } = info.padInfo;
    const validInfo = { ...info, padInfo: { ...info.padInfo, type: 'VALID' as const } };
    const grad = withShape([b, h + top + bottom, w + left + right, c], (sizes) =>
      be.executeSingleOutput(tf.AvgPoolGrad, poolAttrs(be.binding, validInfo, validInfo.padInfo), [
        sizes,
        scaled,
      ]),
    );
    return tf.slice(grad, [0, top, left, 0], [b, h, w, c]);
  });
};

/** The kernels registered for the 'tensorflow' backend. */
export const tensorflowKernels: tf.KernelConfig[] = [
  { kernelName: tf.Conv2D, backendName: BACKEND, kernelFunc: conv2D },
  { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2DBackpropInput },
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter },
  { kernelName: tf.DepthwiseConv2dNative, backendName: BACKEND, kernelFunc: depthwiseConv2dNative },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: BACKEND,
    kernelFunc: depthwiseConv2dNativeBackpropInput,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: BACKEND,
    kernelFunc: depthwiseConv2dNativeBackpropFilter,
  },
  { kernelName: tf.MaxPool, backendName: BACKEND, kernelFunc: maxPool },
  { kernelName: tf.MaxPoolGrad, backendName: BACKEND, kernelFunc: maxPoolGrad },
  { kernelName: tf.AvgPool, backendName: BACKEND, kernelFunc: avgPool },
  { kernelName: tf.AvgPoolGrad, backendName: BACKEND, kernelFunc: avgPoolGrad },
];

const ours = new WeakSet<tf.KernelConfig>(tensorflowKernels);

/** True when the kernel registered under this name for 'tensorflow' is one of ours. */
export function isOurTensorflowKernel(kernelName: string): boolean {
  const k = tf.getKernel(kernelName, BACKEND);
  return k != null && ours.has(k);
}

/**
 * Registers the kernels above for 'tensorflow' (after tfjs-node registered its own; those are kept
 * for the cases handed back). Idempotent. Returns the names it (re)registered.
 */
export function registerTensorflowKernels(): string[] {
  const added: string[] = [];
  for (const config of tensorflowKernels) {
    const existing = tf.getKernel(config.kernelName, BACKEND);
    if (existing === config) continue;
    if (existing != null) {
      if (!ours.has(existing)) natives.set(config.kernelName, existing);
      tf.unregisterKernel(config.kernelName, BACKEND);
    }
    tf.registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
