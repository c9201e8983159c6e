// Plain-loop reference implementations with PyTorch semantics, used to check the tfjs versions.
import type * as tf from '@tensorflow/tfjs-core';

/** PyTorch's output size: floor((H + 2p - d(k-1) - 1)/s) + 1. */
export function ptOut(h: number, k: number, s: number, p: number, d = 1): number {
  return Math.floor((h + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** NHWC conv with symmetric zero padding; w is [k, k, cin, cout] or depthwise [k, k, c, 1]. */
export function refConv(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  s: number,
  p: number,
  d: number,
  depthwise: boolean,
): { data: Float32Array; shape: number[] } {
  const [b, h, wd, cin] = x.shape;
  const [k, , , m] = w.shape;
  const cout = depthwise ? cin : m;
  const xv = x.dataSync();
  const wv = w.dataSync();
  const ho = ptOut(h, k, s, p, d);
  const wo = ptOut(wd, k, s, p, d);
  const out = new Float32Array(b * ho * wo * cout);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let co = 0; co < cout; co++) {
          let acc = 0;
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const r = i * s - p + u * d;
              const c = j * s - p + v * d;
              if (r < 0 || r >= h || c < 0 || c >= wd) continue;
              if (depthwise) acc += xv[((n * h + r) * wd + c) * cin + co] * wv[(u * k + v) * cin + co];
              else
                for (let ci = 0; ci < cin; ci++)
                  acc += xv[((n * h + r) * wd + c) * cin + ci] * wv[((u * k + v) * cin + ci) * cout + co];
            }
          out[((n * ho + i) * wo + j) * cout + co] = acc;
        }
  return { data: out, shape: [b, ho, wo, cout] };
}

/** AvgPool2d(k, s, p, count_include_pad=False) on NHWC. */
export function refAvgPool(
  x: tf.Tensor4D,
  k: number,
  s: number,
  p: number,
): { data: Float32Array; shape: number[] } {
  const [b, h, wd, c] = x.shape;
  const xv = x.dataSync();
  const ho = ptOut(h, k, s, p);
  const wo = ptOut(wd, k, s, p);
  const out = new Float32Array(b * ho * wo * c);
  for (let n = 0; n < b; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let ch = 0; ch < c; ch++) {
          let acc = 0;
          let cnt = 0;
          for (let u = 0; u < k; u++)
            for (let v = 0; v < k; v++) {
              const r = i * s - p + u;
              const q = j * s - p + v;
              if (r < 0 || r >= h || q < 0 || q >= wd) continue;
              acc += xv[((n * h + r) * wd + q) * c + ch];
              cnt++;
            }
          out[((n * ho + i) * wo + j) * c + ch] = acc / cnt;
        }
  return { data: out, shape: [b, ho, wo, c] };
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= tol * (1 + Math.abs(expected[i])))) {
      throw new Error(`index ${i}: ${actual[i]} != ${expected[i]} (diff ${diff})`);
    }
  }
}
