// Dilated filters as undilated ones: the zero-inserted filter that both the gradients (cpu, where
// kernels ignore `dilations`) and the tensorflow kernels (whose depthwise backprops refuse them) use.
import * as tf from '@tensorflow/tfjs-core';

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
