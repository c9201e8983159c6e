// tfjs 4.22's gradient of DepthwiseConv2dNative refuses dilations > 1 (and stride > 1 together
// with dilation > 1), which DARTS's dil_conv ops need. This replacement keeps tfjs's behaviour for
// dilation 1 and handles dilation > 1 in one of two exact ways:
// - on wasm with our kernels, which honour the `dilations` attribute, it passes it through;
// - elsewhere (the cpu kernels ignore `dilations`), it differentiates the equivalent undilated
//   convolution whose filter has (d-1) zeros inserted between taps, and keeps every d-th tap of
//   that filter's gradient.
import * as tf from '@tensorflow/tfjs-core';
import { isOurWasmKernel } from './wasm-kernels.js';

type Pair = [number, number];

function pair(v: number | Pair | undefined): Pair {
  if (v == null) return [1, 1];
  return typeof v === 'number' ? [v, v] : v;
}

/** [kh,kw,c,m] -> [(kh-1)dh+1, (kw-1)dw+1, c, m] with zeros between the taps. */
export function dilateFilter(filter: tf.Tensor4D, dh: number, dw: number): tf.Tensor4D {
  if (dh === 1 && dw === 1) return filter;
  const [kh, kw, c, m] = filter.shape;
  const spread = tf.pad(tf.reshape(filter, [kh, 1, kw, 1, c, m]), [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
    [0, 0],
  ]);
  const full = tf.reshape(spread, [kh * dh, kw * dw, c, m]) as tf.Tensor4D;
  return tf.slice(full, [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, c, m]);
}

function backendHonoursDilations(): boolean {
  return (
    tf.getBackend() === 'wasm' &&
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

let registered = false;

/** Installs the dilation-capable gradient of DepthwiseConv2dNative (idempotent). */
export function registerTrainingGradients(): void {
  if (registered && tf.getGradient(tf.DepthwiseConv2dNative) === depthwiseConv2dNativeGradConfig) {
    return;
  }
  tf.registerGradient(depthwiseConv2dNativeGradConfig);
  registered = true;
}
