// Each wasm training kernel against the cpu backend's kernel (or, for dilation > 1 where the cpu
// kernels ignore `dilations`, against cpu's gradient of the equivalent zero-inserted filter).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PADS as SHARED_PADS, randn, relError, runOn, setupBackends, tensor } from '../../test/helpers.js';
import { setSimdKernelsEnabled } from './simd.js';
import { dilateFilter } from './training-gradients.js';

type Pad = tf.Conv2DAttrs['pad'];
const PADS: Pad[] = [...SHARED_PADS, 1];
const KERNELS = [1, 2, 3, 5, 7];
const TOL = 1e-4;

function outSize(
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  stride: number,
  dilation: number,
  pad: Pad,
  depthwise: boolean,
) {
  const info = tf.backend_util.computeConv2DInfo(
    inShape,
    filterShape,
    stride,
    dilation,
    pad,
    undefined,
    depthwise,
  );
  return info;
}

beforeAll(async () => {
  await setupBackends({ checkKernelLeaks: true });
});

describe('wasm DepthwiseConv2dNativeBackpropInput / BackpropFilter', () => {
  it.each(KERNELS)('match cpu for k=%i over strides, dilations, paddings, sizes', async (k) => {
    const failures: string[] = [];
    let checked = 0;
    for (const size of [7, 8])
      for (const stride of [1, 2])
        for (const dilation of [1, 2])
          for (const pad of PADS) {
            const m = k === 3 && size === 8 ? 2 : 1; // channel multiplier > 1 on a subset
            const inShape: [number, number, number, number] = [2, size, size, 3];
            const fShape: [number, number, number, number] = [k, k, 3, m];
            const eff = (k - 1) * dilation + 1;
            if (pad === 'valid' && eff > size) continue;
            const info = outSize(inShape, fShape, stride, dilation, pad, true);
            if (info.outHeight <= 0 || info.outWidth <= 0) continue;
            const seed = size * 1000 + k * 100 + stride * 10 + dilation;
            const x = randn(inShape, seed);
            const f = randn(fShape, seed + 1);
            const dy = randn(info.outShape, seed + 2);
            const attrs = { strides: stride, pad, dimRoundingMode: undefined };
            const viaKernels = () => {
              const dx = tf
                .engine()
                .runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: tensor(dy), filter: tensor(f) }, {
                  ...attrs,
                  dilations: dilation,
                  inputShape: inShape,
                } as unknown as tf.NamedAttrMap) as tf.Tensor;
              const df = tf
                .engine()
                .runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: tensor(x), dy: tensor(dy) }, {
                  ...attrs,
                  dilations: dilation,
                  filterShape: fShape,
                } as unknown as tf.NamedAttrMap) as tf.Tensor;
              return [dx, df];
            };
            // Reference: cpu, through an undilated convolution with a zero-inserted filter.
            const reference = () => {
              const g = tf.grads((xx: tf.Tensor, ff: tf.Tensor) =>
                tf.sum(
                  tf.mul(
                    tf.depthwiseConv2d(
                      xx as tf.Tensor4D,
                      dilateFilter(ff as tf.Tensor4D, dilation, dilation),
                      stride,
                      pad,
                    ),
                    tensor(dy),
                  ),
                ),
              );
              return g([tensor(x), tensor(f)]);
            };
            const want = await runOn('cpu', reference);
            const got = await runOn('wasm', viaKernels);
            checked++;
            for (const [i, name] of ['dx', 'dfilter'].entries()) {
              const err = relError(got.values[i], want.values[i]);
              if (!(err <= TOL)) {
                failures.push(
                  `${name} size=${size} s=${stride} d=${dilation} pad=${JSON.stringify(pad)} m=${m}: rel err ${err} (shapes ${got.shapes[i]} vs ${want.shapes[i]})`,
                );
              }
            }
          }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});

describe('wasm Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  it.each(KERNELS)('match cpu for k=%i over strides, paddings, sizes', async (k) => {
    const failures: string[] = [];
    let checked = 0;
    for (const size of [7, 8])
      for (const stride of [1, 2])
        for (const pad of PADS) {
          const inShape: [number, number, number, number] = [2, size, size, 3];
          const fShape: [number, number, number, number] = [k, k, 3, 4];
          if (pad === 'valid' && k > size) continue;
          const info = outSize(inShape, fShape, stride, 1, pad, false);
          if (info.outHeight <= 0 || info.outWidth <= 0) continue;
          const seed = size * 1000 + k * 100 + stride * 10;
          const x = randn(inShape, seed);
          const dy = randn(info.outShape, seed + 2);
          const f = randn(fShape, seed + 1);
          const common = { strides: stride, pad, dataFormat: 'NHWC' };
          const filterAttrs = { ...common, filterShape: fShape } as unknown as tf.NamedAttrMap;
          const inputAttrs = { ...common, inputShape: inShape } as unknown as tf.NamedAttrMap;
          const run = () => [
            tf
              .engine()
              .runKernel(tf.Conv2DBackpropFilter, { x: tensor(x), dy: tensor(dy) }, filterAttrs) as tf.Tensor,
            tf
              .engine()
              .runKernel(
                tf.Conv2DBackpropInput,
                { dy: tensor(dy), filter: tensor(f) },
                inputAttrs,
              ) as tf.Tensor,
          ];
          const want = await runOn('cpu', run);
          const got = await runOn('wasm', run);
          checked++;
          for (const [i, name] of ['dfilter', 'dx'].entries()) {
            const err = relError(got.values[i], want.values[i]);
            if (!(err <= TOL)) {
              failures.push(`${name} size=${size} s=${stride} pad=${JSON.stringify(pad)}: rel err ${err}`);
            }
          }
        }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});

describe('composite kernels and reference counts', () => {
  it('leave bare TensorInfo inputs alive and free their intermediates', async () => {
    await tf.setBackend('wasm');
    // The composite path (the SIMD kernels return a bare output and create no intermediates).
    setSimdKernelsEnabled(false);
    onTestFinished(() => setSimdKernelsEnabled(true));
    const x = tf.tensor4d(randn([1, 5, 5, 2], 1).data, [1, 5, 5, 2]);
    const dy = tf.tensor4d(randn([1, 5, 5, 2], 2).data, [1, 5, 5, 2]);
    const kernel = tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, 'wasm');
    const before = tf.memory().numTensors;
    const info = (t: tf.Tensor): tf.TensorInfo => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    const out = kernel?.kernelFunc({
      inputs: { x: info(x), dy: info(dy) },
      backend: tf.backend(),
      attrs: { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 2, 1] },
    }) as tf.Tensor;
    expect(out.shape).toEqual([3, 3, 2, 1]);
    expect(tf.memory().numTensors).toBe(before + 1);
    // The inputs still hold their data.
    expect(Array.from(x.dataSync())).toEqual(Array.from(randn([1, 5, 5, 2], 1).data));
    expect(Array.from(dy.dataSync())).toEqual(Array.from(randn([1, 5, 5, 2], 2).data));
    tf.dispose([x, dy, out]);
  });
});

describe('replaced and added wasm kernels', () => {
  it('MaxPoolGrad gives ties to the first maximum of each window, as cpu does', async () => {
    // ReLU'd, coarsely rounded data: many windows hold several equal maxima (often zeros).
    const raw = randn([2, 7, 7, 5], 21);
    const x = { ...raw, data: raw.data.map((v) => Math.max(0, Math.round(v * 2) / 2)) };
    for (const [stride, pad] of [
      [1, 1],
      [2, 1],
      [2, 'same'],
      [1, 'valid'],
    ] as const) {
      const run = () =>
        tf.grad((t: tf.Tensor) => {
          const y = tf.maxPool(t as tf.Tensor4D, 3, stride, pad);
          return tf.sum(tf.mul(y, tf.reshape(tf.range(1, y.size + 1), y.shape)));
        })(tensor(x));
      const want = await runOn('cpu', run);
      const got = await runOn('wasm', run);
      expect(relError(got.values[0], want.values[0]), `stride ${stride} pad ${pad}`).toBeLessThanOrEqual(
        1e-6,
      );
    }
  });

  it('OneHot honours float dtypes and on/off values', async () => {
    const run = () => tf.oneHot(tf.tensor1d([2, 0, -1], 'int32'), 3, 0.9, 0.05, 'float32');
    const got = await runOn('wasm', run);
    expect(Array.from(got.values[0])).toEqual(
      [0.05, 0.05, 0.9, 0.9, 0.05, 0.05, 0.05, 0.05, 0.05].map(Math.fround),
    );
    const ints = await runOn('wasm', () => tf.oneHot(tf.tensor1d([1], 'int32'), 3));
    expect(Array.from(ints.values[0])).toEqual([0, 1, 0]);
  });

  it('UnsortedSegmentSum matches cpu, dropping negative ids', async () => {
    const data = randn([6, 4], 31);
    const run = () =>
      tf
        .engine()
        .runKernel(
          tf.UnsortedSegmentSum,
          { x: tensor(data), segmentIds: tf.tensor1d([2, -1, 0, 2, 2, 4], 'int32') },
          { numSegments: 5 },
        ) as tf.Tensor;
    const want = await runOn('cpu', run);
    const got = await runOn('wasm', run);
    expect(got.shapes[0]).toEqual([5, 4]);
    expect(relError(got.values[0], want.values[0])).toBeLessThanOrEqual(1e-6);
  });
});

describe('Sum / Mean on wasm', () => {
  const data = randn([3, 4, 5, 6], 41);
  it.each([
    { axis: [0, 1, 2], keepDims: false },
    { axis: [0, 1, 2], keepDims: true },
    { axis: [1, 0], keepDims: false },
    { axis: 0, keepDims: false },
    { axis: null, keepDims: false },
    { axis: [1, 2], keepDims: true },
    { axis: [3], keepDims: false },
  ])(
    'match cpu for axis $axis keepDims $keepDims (leading axes via matMul, others native)',
    async ({ axis, keepDims }) => {
      const run = () => [
        tf.sum(tensor(data), axis ?? undefined, keepDims),
        tf.mean(tensor(data), axis ?? undefined, keepDims),
        tf.sum(tf.cast(tensor(data), 'int32'), axis ?? undefined, keepDims),
      ];
      const want = await runOn('cpu', run);
      const got = await runOn('wasm', run);
      for (let i = 0; i < 3; i++) {
        expect(got.shapes[i]).toEqual(want.shapes[i]);
        expect(relError(got.values[i], want.values[i])).toBeLessThanOrEqual(1e-6);
      }
    },
  );
});
