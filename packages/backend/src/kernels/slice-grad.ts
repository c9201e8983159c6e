// The adjoint of tf.stridedSlice: scatters a slice's gradient back into the input's shape.
import * as tf from '@tensorflow/tfjs-core';

/** Spreads `t` along `axis`: n elements -> n*s, element i at position i*s, zeros between. */
export function spreadAxis(t: tf.Tensor, axis: number, s: number): tf.Tensor {
  if (s === 1) return t;
  const shape = t.shape;
  const n = shape[axis];
  const withGap = [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)];
  const paddings = withGap.map((_, i): [number, number] => (i === axis + 1 ? [0, s - 1] : [0, 0]));
  const spread = tf.pad(tf.reshape(t, withGap), paddings);
  return tf.reshape(spread, [...shape.slice(0, axis), n * s, ...shape.slice(axis + 1)]);
}

export function stridedSliceGrad(dy: tf.Tensor, xShape: number[], attrs: tf.StridedSliceAttrs): tf.Tensor {
  const { begin, end, strides, beginMask, endMask, ellipsisMask, newAxisMask, shrinkAxisMask } = attrs;
  const info = tf.slice_util.sliceInfo(
    xShape,
    begin,
    end,
    strides,
    beginMask,
    endMask,
    ellipsisMask,
    newAxisMask,
    shrinkAxisMask,
  );
  // Elements taken along each input axis (shrunk axes take 1; new axes are size-1 dims of dy).
  const counts = tf.slice_util.computeOutShape(info.begin, info.end, info.strides);
  if (counts.some((n) => n === 0)) return tf.zeros(xShape);
  let g = tf.reshape(dy, counts);
  const paddings: [number, number][] = [];
  for (let axis = 0; axis < xShape.length; axis++) {
    let first = info.begin[axis];
    let step = info.strides[axis];
    if (step < 0) {
      g = tf.reverse(g, axis);
      first += (counts[axis] - 1) * step;
      step = -step;
    }
    g = spreadAxis(g, axis, step);
    paddings.push([first, xShape[axis] - first - counts[axis] * step]);
  }
  // The spread leaves (stride - 1) trailing zeros per axis, which may run past the input's end.
  if (paddings.some(([, after]) => after < 0)) {
    g = tf.slice(
      g,
      g.shape.map(() => 0),
      g.shape.map((d, i) => d + Math.min(0, paddings[i][1])),
    );
  }
  return tf.pad(
    g,
    paddings.map(([before, after]) => [before, Math.max(0, after)] as [number, number]),
  );
}
