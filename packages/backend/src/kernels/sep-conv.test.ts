// The full gradient of a DARTS sep_conv / dil_conv block (ReLU -> depthwise -> pointwise 1x1 ->
// batch-norm arithmetic) is the same on wasm as on cpu.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randn, relError, runOn, setupBackends, tensor } from '../../test/helpers.js';
import { assertNoLeak } from '../memory.js';
import { dilateFilter } from './training-gradients.js';

beforeAll(async () => {
  await setupBackends();
});

/** ReLU -> depthwise -> 1x1 -> BN arithmetic (affine off), as in Archai's DilConv. */
function block(
  x: tf.Tensor4D,
  dw: tf.Tensor4D,
  pw: tf.Tensor4D,
  stride: number,
  dilation: number,
  undilated = false,
) {
  const k = dw.shape[0];
  const pad = (dilation * (k - 1)) / 2;
  // The cpu backend refuses stride 2 with dilation 2; its reference uses the zero-inserted filter.
  const h = undilated
    ? tf.depthwiseConv2d(tf.relu(x), dilateFilter(dw, dilation, dilation), stride, pad)
    : tf.depthwiseConv2d(tf.relu(x), dw, stride, pad, 'NHWC', dilation);
  const p = tf.conv2d(h, pw, 1, 'valid');
  const { mean, variance } = tf.moments(p, [0, 1, 2]);
  return tf.div(tf.sub(p, mean), tf.sqrt(tf.add(variance, 1e-5)));
}

describe('sep_conv / dil_conv block gradient', () => {
  it.each([
    { name: 'sep_conv_3x3 half', k: 3, stride: 1, dilation: 1 },
    { name: 'sep_conv_5x5 half, reduction', k: 5, stride: 2, dilation: 1 },
    { name: 'dil_conv_3x3', k: 3, stride: 1, dilation: 2 },
    { name: 'dil_conv_5x5, reduction', k: 5, stride: 2, dilation: 2 },
  ])('$name: wasm matches cpu for x, depthwise and pointwise weights', async ({ k, stride, dilation }) => {
    const x = randn([3, 8, 8, 4], k + stride);
    const dw = randn([k, k, 4, 1], 11);
    const pw = randn([1, 1, 4, 6], 12);
    const outH = stride === 1 ? 8 : 4;
    const r = randn([3, outH, outH, 6], 13);
    const grads = (undilated: boolean) => () =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(
          tf.mul(
            block(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, stride, dilation, undilated),
            tensor(r),
          ),
        ),
      )([tensor(x), tensor(dw), tensor(pw)]);
    const want = await runOn('cpu', grads(stride > 1 && dilation > 1));
    const got = await runOn('wasm', grads(false));
    for (let i = 0; i < 3; i++) {
      expect(got.shapes[i]).toEqual(want.shapes[i]);
      expect(relError(got.values[i], want.values[i]), `grad ${i}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it('a training step with variableGrads leaves no tensors behind on wasm', async () => {
    await tf.setBackend('wasm');
    const dw = tf.variable(tensor(randn([3, 3, 4, 1], 1)));
    const pw = tf.variable(tensor(randn([1, 1, 4, 4], 2)));
    const x = tensor(randn([2, 8, 8, 4], 3)) as tf.Tensor4D;
    const step = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() =>
          tf.mean(tf.square(block(x, dw as unknown as tf.Tensor4D, pw as unknown as tf.Tensor4D, 1, 2))),
        );
        dw.assign(tf.sub(dw, tf.mul(grads[dw.name], 0.1)));
        pw.assign(tf.sub(pw, tf.mul(grads[pw.name], 0.1)));
        return value.dataSync()[0];
      });
    step(); // first call may allocate backend state
    const losses = [0, 1, 2].map(() => assertNoLeak(step, 'training step'));
    expect(losses.every(Number.isFinite)).toBe(true);
    tf.dispose([dw, pw, x]);
  });
});
