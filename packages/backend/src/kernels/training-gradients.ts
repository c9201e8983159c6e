// Gradients that replace tfjs 4.22's own where those are missing a case or wrong.
//
// DepthwiseConv2dNative: tfjs 4.22's gradient refuses dilations > 1 (and stride > 1 together
// with dilation > 1), which DARTS's dil_conv ops need. This replacement keeps tfjs's behaviour for
// dilation 1 and handles dilation > 1 in one of two exact ways:
// - on wasm and tensorflow with our kernels, which honour the `dilations` attribute, it passes it
//   through;
// - elsewhere (the cpu kernels ignore `dilations`), it differentiates the equivalent undilated
//   convolution whose filter has (d-1) zeros inserted between taps, and keeps every d-th tap of
//   that filter's gradient.
import * as tf from '@tensorflow/tfjs-core';
import { dilateFilter } from './dilate.js';
import { stridedSliceGrad } from './slice-grad.js';

export { dilateFilter };
import { isOurTensorflowKernel } from './tensorflow-kernels.js';
import { isOurWasmKernel } from './wasm-kernels.js';

type Pair = [number, number];

function pair(v: number | Pair | undefined): Pair {
  if (v == null) return [1, 1];
  return typeof v === 'number' ? [v, v] : v;
}

function backendHonoursDilations(): boolean {
  const backend = tf.getBackend();
  if (backend === 'tensorflow') return isOurTensorflowKernel(tf.DepthwiseConv2dNativeBackpropFilter);
  return (
    backend === 'wasm' &&
    isOurWasmKernel(tf.DepthwiseConv2dNativeBackpropInput) &&
    isOurWasmKernel(tf.DepthwiseConv2dNativeBackpropFilter)
  );
}

export const depthwiseConv2dNativeGradConfig: tf.GradConfig = {
  kernelName: tf.DepthwiseConv2dNative,
  inputsToSave: ['x', 'filter'],
  gradFunc: (dy, saved, attrs) => {
    const { strides, pad, dimRoundingMode } = attrs as unknown as tf.DepthwiseConv2dNativeAttrs;
    const dilations = pair((attrs as unknown as tf.DepthwiseConv2dNativeAttrs).dilations);
    const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
    if (x.rank !== 4 || filter.rank !== 4) {
      throw new Error(
        `gradient of depthwiseConv2d: x and filter must be rank 4, got ${x.rank} and ${filter.rank}`,
      );
    }
    const engine = tf.engine();
    const dy4 = dy as tf.Tensor4D;
    if ((dilations[0] === 1 && dilations[1] === 1) || backendHonoursDilations()) {
      const common = { strides, pad, dimRoundingMode, dilations };
      return {
        x: () =>
          engine.runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: dy4, filter }, {
            ...common,
            inputShape: x.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        filter: () =>
          engine.runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy: dy4 }, {
            ...common,
            filterShape: filter.shape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
      };
    }
    const common = { strides, pad, dimRoundingMode, dilations: [1, 1] };
    return {
      x: () =>
        engine.runKernel(
          tf.DepthwiseConv2dNativeBackpropInput,
          { dy: dy4, filter: dilateFilter(filter, dilations[0], dilations[1]) },
          { ...common, inputShape: x.shape } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      filter: () => {
        const [kh, kw, c, m] = filter.shape;
        const shape = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1, c, m];
        const full = engine.runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy: dy4 }, {
          ...common,
          filterShape: shape,
        } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
        return tf.stridedSlice(full, [0, 0, 0, 0], shape, [dilations[0], dilations[1], 1, 1]);
      },
    };
  },
};

// AvgPool: tfjs's forward average excludes padded pixels from the count (PyTorch's
// count_include_pad=False, what DARTS's avg_pool_3x3 uses), but the cpu and wasm AvgPoolGrad
// kernels divide by the full window size, so pixels near a padded border get a wrong gradient.
// We rescale dy by (window size / in-bounds count) before those kernels. Other backends
// (tfjs-node's TensorFlow kernels) already divide by the in-bounds count and are left alone.
const FULL_WINDOW_AVG_POOL_GRAD = new Set(['cpu', 'wasm']);

export const avgPoolGradConfig: tf.GradConfig = {
  kernelName: tf.AvgPool,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor4D];
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.AvgPoolAttrs;
    return {
      x: () => {
        const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad, dimRoundingMode);
        const { top, bottom, left, right } = info.padInfo;
        let grad = dy as tf.Tensor4D;
        if (top + bottom + left + right > 0 && FULL_WINDOW_AVG_POOL_GRAD.has(tf.getBackend())) {
          const { filterHeight: fh, filterWidth: fw } = info;
          // In-bounds pixels per window: a box filter over ones, padded exactly like the pool.
          const count = tf.depthwiseConv2d(
            tf.ones([1, info.inHeight, info.inWidth, 1]) as tf.Tensor4D,
            tf.ones([fh, fw, 1, 1]) as tf.Tensor4D,
            strides,
            pad,
            'NHWC',
            1,
            dimRoundingMode,
          );
          grad = tf.mul(grad, tf.div(fh * fw, count));
        }
        const poolAttrs = { filterSize, strides, pad } as unknown as tf.NamedAttrMap;
        return tf.engine().runKernel(tf.AvgPoolGrad, { dy: grad, input: x }, poolAttrs) as tf.Tensor;
      },
    };
  },
};

// StridedSlice: tfjs 4.22 has no gradient for it (x[:, ::2, ::2] cannot be trained through).
// The gradient scatters dy back to the sliced positions: per axis, undo a negative stride by
// reversing, insert (stride - 1) zeros between elements, then pad to the input's extent.

export const stridedSliceGradConfig: tf.GradConfig = {
  kernelName: tf.StridedSlice,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    return {
      x: () => stridedSliceGrad(dy as tf.Tensor, x.shape, attrs as unknown as tf.StridedSliceAttrs),
    };
  },
};

/** Gradients that replace tfjs's own. */
const REPLACEMENTS = [depthwiseConv2dNativeGradConfig, avgPoolGradConfig];
/** Gradients tfjs lacks; a later tfjs that ships its own keeps it. */
const ADDITIONS = [stridedSliceGradConfig];

/**
 * Installs our gradients: DepthwiseConv2dNative (dilations > 1), AvgPool (padded borders) and
 * StridedSlice (missing in tfjs). Idempotent; call it after anything that registers tfjs's own.
 */
export function registerTrainingGradients(): void {
  for (const config of REPLACEMENTS) {
    if (tf.getGradient(config.kernelName) !== config) tf.registerGradient(config);
  }
  for (const config of ADDITIONS) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}
