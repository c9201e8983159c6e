// tf.grads through tf.depthwiseConv2d with dilation 2 (tfjs 4.22's own gradient refuses it), on
// wasm (our kernels, dilations passed through) and on cpu (zero-inserted filter fallback). The
// reference is cpu's gradient of the undilated convolution with a zero-inserted filter.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randn, relError, runOn, setupBackends, tensor } from '../../test/helpers.js';
import { dilateFilter } from './dilated-gradient.js';

beforeAll(async () => {
  await setupBackends();
});

const CASES: { k: number; stride: number; pad: tf.Conv2DAttrs['pad']; size: number }[] = [
  { k: 3, stride: 1, pad: 2, size: 8 }, // dil_conv_3x3, normal cell
  { k: 3, stride: 2, pad: 2, size: 8 }, // dil_conv_3x3, reduction cell
  { k: 5, stride: 1, pad: 4, size: 7 }, // dil_conv_5x5
  { k: 5, stride: 2, pad: 4, size: 9 },
  { k: 3, stride: 2, pad: 'same', size: 7 },
];

describe('gradient of depthwiseConv2d with dilation 2', () => {
  it.each(CASES)(
    'k=$k stride=$stride pad=$pad size=$size matches the undilated equivalent',
    async ({ k, stride, pad, size }) => {
      const x = randn([2, size, size, 3], k * 7 + stride);
      const f = randn([k, k, 3, 1], k * 7 + stride + 1);
      const outShape = tf.backend_util.computeConv2DInfo(
        [2, size, size, 3],
        [k, k, 3, 1],
        stride,
        2,
        pad,
        undefined,
        true,
      ).outShape;
      const w = randn(outShape, 99);
      const loss = (dilated: boolean) => (xx: tf.Tensor, ff: tf.Tensor) => {
        const y = dilated
          ? tf.depthwiseConv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, stride, pad, 'NHWC', 2)
          : tf.depthwiseConv2d(xx as tf.Tensor4D, dilateFilter(ff as tf.Tensor4D, 2, 2), stride, pad);
        return tf.sum(tf.mul(y, tensor(w)));
      };
      const want = await runOn('cpu', () => tf.grads(loss(false))([tensor(x), tensor(f)]));
      // tfjs's cpu forward kernel refuses stride > 1 together with dilation > 1; wasm runs it.
      const backends = stride === 1 ? (['wasm', 'cpu'] as const) : (['wasm'] as const);
      for (const backend of backends) {
        const got = await runOn(backend, () => tf.grads(loss(true))([tensor(x), tensor(f)]));
        expect(relError(got.values[0], want.values[0]), `${backend} dx`).toBeLessThanOrEqual(1e-4);
        expect(relError(got.values[1], want.values[1]), `${backend} dfilter`).toBeLessThanOrEqual(1e-4);
      }
    },
  );

  it('keeps gradients of undilated convolutions as tfjs defines them', async () => {
    const x = randn([2, 6, 6, 2], 5);
    const f = randn([3, 3, 2, 1], 6);
    const g = () =>
      tf.grads((xx: tf.Tensor, ff: tf.Tensor) =>
        tf.sum(tf.square(tf.depthwiseConv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 2, 'same'))),
      )([tensor(x), tensor(f)]);
    const cpu = await runOn('cpu', g);
    const wasm = await runOn('wasm', g);
    expect(relError(wasm.values[0], cpu.values[0])).toBeLessThanOrEqual(1e-4);
    expect(relError(wasm.values[1], cpu.values[1])).toBeLessThanOrEqual(1e-4);
  });
});

describe('dilateFilter', () => {
  it('inserts zeros between taps', () => {
    const f = tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1]);
    const d = dilateFilter(f, 2, 3);
    expect(d.shape).toEqual([3, 4, 1, 1]);
    expect(Array.from(d.dataSync())).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4]);
    tf.dispose([f, d]);
  });
});
