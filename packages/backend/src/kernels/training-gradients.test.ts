// tf.grads through tf.depthwiseConv2d with dilation 2 (tfjs 4.22's own gradient refuses it), on
// wasm (our kernels, dilations passed through) and on cpu (zero-inserted filter fallback). The
// reference is cpu's gradient of the undilated convolution with a zero-inserted filter.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randn, relError, runOn, setupBackends, tensor } from '../../test/helpers.js';
import { dilateFilter } from './training-gradients.js';

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

describe('gradient of avgPool with padding (count_include_pad=False)', () => {
  it.each([
    { stride: 1, pad: 1 as const, size: 5 },
    { stride: 2, pad: 1 as const, size: 8 },
    { stride: 2, pad: 'same' as const, size: 7 },
  ])(
    'stride $stride pad $pad size $size equals the gradient of box-sum / in-bounds count',
    async ({ stride, pad, size }) => {
      const x = randn([2, size, size, 3], size);
      const pooled = (xx: tf.Tensor) => tf.avgPool(xx as tf.Tensor4D, 3, stride, pad);
      // Reference: the same average written as a box-filter convolution over an in-bounds count.
      const boxed = (xx: tf.Tensor) => {
        const box = tf.ones([3, 3, 3, 1]) as tf.Tensor4D;
        const sum = tf.depthwiseConv2d(xx as tf.Tensor4D, box, stride, pad);
        const ones = tf.ones([1, size, size, 1]) as tf.Tensor4D;
        const count = tf.depthwiseConv2d(ones, tf.ones([3, 3, 1, 1]) as tf.Tensor4D, stride, pad);
        return tf.div(sum, count);
      };
      const w = randn((await runOn('cpu', () => pooled(tensor(x)))).shapes[0], 3);
      const grad = (f: (xx: tf.Tensor) => tf.Tensor) => () =>
        tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(f(xx), tensor(w))))(tensor(x));
      const want = await runOn('cpu', grad(boxed));
      for (const backend of ['cpu', 'wasm'] as const) {
        const got = await runOn(backend, grad(pooled));
        expect(relError(got.values[0], want.values[0]), backend).toBeLessThanOrEqual(1e-5);
      }
    },
  );
});

describe('gradient of stridedSlice (missing in tfjs 4.22)', () => {
  const x = randn([2, 7, 6, 3], 8);
  const cases: {
    name: string;
    slice: (t: tf.Tensor) => tf.Tensor;
    reference: (t: tf.Tensor) => tf.Tensor;
  }[] = [
    {
      name: 'x[:, ::2, ::2] on odd and even sizes',
      slice: (t) => tf.stridedSlice(t, [0, 0, 0, 0], [2, 7, 6, 3], [1, 2, 2, 1]),
      reference: (t) =>
        tf.reshape(
          tf.slice(
            tf.reshape(
              tf.pad(t, [
                [0, 0],
                [0, 1],
                [0, 0],
                [0, 0],
              ]),
              [2, 4, 2, 3, 2, 3],
            ),
            [0, 0, 0, 0, 0, 0],
            [2, 4, 1, 3, 1, 3],
          ),
          [2, 4, 3, 3],
        ),
    },
    {
      name: 'x[:, 1:, 1:] via begin offsets and end masks',
      slice: (t) => tf.stridedSlice(t, [0, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1], 0, 0b1111),
      reference: (t) => tf.slice(t, [0, 1, 1, 0], [2, 6, 5, 3]),
    },
    {
      name: 'negative stride x[:, ::-3]',
      slice: (t) => tf.stridedSlice(t, [0, -1, 0, 0], [2, -8, 6, 3], [1, -3, 1, 1]),
      reference: (t) => tf.gather(t, tf.tensor1d([6, 3, 0], 'int32'), 1),
    },
    {
      // (tfjs's own forward is wrong when a shrunk axis is combined with strides > 1.)
      name: 'x[:, 2] with the second axis shrunk',
      slice: (t) => tf.stridedSlice(t, [0, 2, 0, 0], [2, 3, 6, 3], [1, 1, 1, 1], 0, 0, 0, 0, 0b10),
      reference: (t) => tf.squeeze(tf.slice(t, [0, 2, 0, 0], [2, 1, 6, 3]), [1]),
    },
  ];
  it.each(cases)('$name', async ({ slice, reference }) => {
    const w = randn((await runOn('cpu', () => reference(tensor(x)))).shapes[0], 4);
    const grad = (f: (t: tf.Tensor) => tf.Tensor) => () => {
      const y = f(tensor(x));
      return [y, tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), tensor(w))))(tensor(x))];
    };
    const want = await runOn('cpu', grad(reference));
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await runOn(backend, grad(slice));
      expect(got.shapes[0], `${backend} forward shape`).toEqual(want.shapes[0]);
      expect(relError(got.values[0], want.values[0]), `${backend} forward`).toBe(0);
      expect(relError(got.values[1], want.values[1]), `${backend} gradient`).toBeLessThanOrEqual(1e-6);
    }
  });
});
