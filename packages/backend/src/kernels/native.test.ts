// The native CPU kernels (native/kernels/cpu_kernels.c) against the SIMD module's kernels they
// stand in for, and the 1x1 convolution kernels against XNNPACK's convolution and matMul, on
// channel counts and widths that reach every vector block and remainder.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  depthwiseCases,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  PADS as SHARED_PADS,
  randn,
  relError,
  setupBackends,
  tensor,
} from '../../test/helpers.js';
import { NATIVE_KERNELS_PATH, nativeKernelsStatus, setNativeKernelsEnabled } from './native.js';
import { simdKernels } from './simd.js';
import {
  BATCH_NORM_GRAD,
  BATCH_NORM_TRAIN,
  POINTWISE_FILTER_GRAD,
  PIXEL_SCALE,
  POINTWISE_INPUT_GRAD,
  RELU_GRAD,
} from './wasm-kernels.js';

type Pad = tf.Conv2DAttrs['pad'];

// The install builds the addon (scripts/build-kernels.mjs); only an explicit opt-out skips these.
const optedOut = /^(0|false|no|off)$/i.test(process.env.TSNAS_NATIVE_KERNELS ?? '');

beforeAll(async () => {
  await setupBackends({ checkKernelLeaks: true });
  await tf.setBackend('wasm');
});

/** Runs `f` with the native kernels, then with the SIMD module's; returns both results' data. */
function nativeAndWasm(f: () => tf.Tensor): [Float32Array, Float32Array] {
  const [native, wasm] = nativeAndWasmAll(() => [f()]);
  return [native[0], wasm[0]];
}

/** nativeAndWasm for kernels with several outputs: every output's data, per path. */
function nativeAndWasmAll(f: () => tf.Tensor[]): [Float32Array[], Float32Array[]] {
  onTestFinished(() => setNativeKernelsEnabled(true));
  const results: Float32Array[][] = [];
  for (const on of [true, false]) {
    setNativeKernelsEnabled(on);
    const ts = tf.tidy(f);
    results.push(ts.map((t) => t.dataSync() as Float32Array));
    tf.dispose(ts);
  }
  return [results[0], results[1]];
}

const PADS: Pad[] = [
  ...SHARED_PADS,
  // More left padding than a 1x1 or 3x3 filter reaches: the stride-1 input gradient starts inside dy.
  [
    [0, 0],
    [1, 0],
    [3, 1],
    [0, 0],
  ],
];

describe.skipIf(optedOut)('native CPU kernels', () => {
  it('are built and loaded, and stand in for the SIMD module on wasm', () => {
    const status = nativeKernelsStatus();
    expect(status.why, `${NATIVE_KERNELS_PATH}: ${status.why}`).toBeUndefined();
    expect(status.loaded).toBe(true);
    expect(['AVX-512', 'AVX2', '128-bit']).toContain(status.isa);
    expect(simdKernels(tf.backend())?.native).toBe(status.isa);
    setNativeKernelsEnabled(false);
    onTestFinished(() => setNativeKernelsEnabled(true));
    expect(simdKernels(tf.backend())?.native).toBeUndefined();
  });

  it.each([1, 2, 4, 8, 16, 32, 48])(
    'depthwise forward and both gradients match the SIMD module with %i channels',
    (c) => {
      // 9 columns: rows of 9*c floats end in a partial 16-float block for every c < 16.
      const cases = depthwiseCases(c, 7, 9, PADS);
      for (const t of cases) {
        const bias = randn([c], c + 3);
        const [y, yWasm] = nativeAndWasm(() =>
          tf.fused.depthwiseConv2d({
            x: tensor(t.x) as tf.Tensor4D,
            filter: tensor(t.f) as tf.Tensor4D,
            bias: tensor(bias),
            strides: t.attrs.strides,
            pad: t.attrs.pad as 'same',
            dilations: t.attrs.dilations,
          }),
        );
        expect(relError(y, yWasm), `y ${t.where}`).toBeLessThan(1e-5);
        const [dx, dxWasm] = nativeAndWasm(() => depthwiseInputGrad(t));
        expect(relError(dx, dxWasm), `dx ${t.where}`).toBeLessThan(1e-5);
        const [df, dfWasm] = nativeAndWasm(() => depthwiseFilterGrad(t));
        expect(relError(df, dfWasm), `df ${t.where}`).toBeLessThan(1e-5);
      }
      expect(cases.length).toBeGreaterThan(20);
    },
  );

  // [pixels, in, out]: 4-row blocks and a remainder, and every column block (64, 16, 8, 4, scalar).
  const GEMMS: [number, number, number][] = [
    [37, 16, 16],
    [30, 64, 64],
    [21, 12, 80],
    [9, 3, 5],
    [64, 8, 4],
    [33, 17, 92],
  ];

  it.each(GEMMS)('1x1 convolution over %i pixels, %i -> %i channels, matches XNNPACK', (p, ci, co) => {
    const x = randn([1, 1, p, ci], p + ci);
    const w = randn([1, 1, ci, co], co);
    const [y, yXnn] = nativeAndWasm(() =>
      tf.conv2d(tensor(x) as tf.Tensor4D, tensor(w) as tf.Tensor4D, 1, 'valid'),
    );
    expect(relError(y, yXnn)).toBeLessThan(1e-5);
  });

  it.each(GEMMS)(
    "1x1 convolution's input and filter gradients over %i pixels, %i -> %i channels",
    (p, ci, co) => {
      const x = randn([1, 1, p, ci], p + ci + 1);
      const w = randn([1, 1, ci, co], co + 1);
      const dy = randn([1, 1, p, co], p + 2);
      setNativeKernelsEnabled(true);
      const dx = tf.tidy(() =>
        tf.engine().runKernel(POINTWISE_INPUT_GRAD, { dy: tensor(dy), filter: tensor(w) }, {}),
      ) as tf.Tensor;
      const dw = tf.tidy(() =>
        tf.engine().runKernel(POINTWISE_FILTER_GRAD, { x: tensor(x), dy: tensor(dy) }, {}),
      );
      const dwT = dw as tf.Tensor;
      // The references: XNNPACK's matMul of the 2-D views.
      const [dxRef, dwRef] = tf.tidy(() => {
        const dy2 = tf.reshape(tensor(dy), [p, co]);
        const w2 = tf.reshape(tensor(w), [ci, co]);
        const x2 = tf.reshape(tensor(x), [p, ci]);
        return [tf.matMul(dy2, tf.transpose(w2)), tf.matMul(tf.transpose(x2), dy2)];
      });
      expect(dx.shape).toEqual([1, 1, p, ci]);
      expect(dwT.shape).toEqual([ci, co]);
      expect(relError(dx.dataSync() as Float32Array, dxRef.dataSync() as Float32Array)).toBeLessThan(1e-5);
      expect(relError(dwT.dataSync() as Float32Array, dwRef.dataSync() as Float32Array)).toBeLessThan(1e-5);
      tf.dispose([dx, dwT, dxRef, dwRef]);
    },
  );

  // [pixels, channels]: flat runs with and without a partial 16-float block, channel counts that
  // divide 16, are multiples of it, or neither; 2,100 pixels span three 1,024-pixel chunks.
  it.each([
    [2100, 4],
    [37, 8],
    [9, 12],
    [2100, 16],
    [33, 48],
  ])(
    'BatchNorm training forward and backward over %i pixels of %i channels match the SIMD module',
    (p, c) => {
      const x = randn([p, c], p + c);
      const rm = randn([c], 1);
      const rv = { data: randn([c], 2).data.map((v) => 1 + Math.abs(v)), shape: [c] };
      const dy = randn([p, c], 3);
      const scale = randn([c], 4);
      const where = `${p}x${c}`;
      const [fwd, fwdWasm] = nativeAndWasmAll(
        () =>
          tf.engine().runKernel(
            BATCH_NORM_TRAIN,
            { x: tensor(x), runningMean: tensor(rm), runningVar: tensor(rv) },
            {
              momentum: 0.1,
              eps: 1e-5,
            },
          ) as tf.Tensor[],
      );
      fwd.forEach((out, i) =>
        expect(relError(out, fwdWasm[i]), `forward output ${i}, ${where}`).toBeLessThan(1e-5),
      );
      const [bwd, bwdWasm] = nativeAndWasmAll(
        () =>
          tf
            .engine()
            .runKernel(
              BATCH_NORM_GRAD,
              { dy: tensor(dy), xhat: tensor(x), scale: tensor(scale) },
              {},
            ) as tf.Tensor[],
      );
      bwd.forEach((out, i) =>
        expect(relError(out, bwdWasm[i]), `backward output ${i}, ${where}`).toBeLessThan(1e-5),
      );
    },
  );

  it.each([5, 16, 4 * 33 + 3])("ReLU's gradient on %i values matches the SIMD module bit for bit", (n) => {
    const x = randn([n], n);
    x.data[0] = 0;
    x.data[n - 1] = Number.NaN;
    const dy = randn([n], n + 1);
    const [native, wasm] = nativeAndWasm(
      () => tf.engine().runKernel(RELU_GRAD, { dy: tensor(dy), x: tensor(x) }, {}) as tf.Tensor,
    );
    expect(Array.from(native)).toEqual(Array.from(wasm));
  });

  it.each([
    [3, 5, 7, 4],
    [2, 4, 4, 3],
    [1, 2, 3, 16],
  ])('PIXEL_SCALE of [%i, %i, %i, %i] equals the broadcasting multiply', (n, h, w, c) => {
    const x = randn([n, h, w, c], n + h + w + c);
    const scale = randn([1, h, w, 1], 9);
    const y = tf.tidy(() =>
      tf.engine().runKernel(PIXEL_SCALE, { x: tensor(x), scale: tensor(scale) }, {}),
    ) as tf.Tensor;
    const ref = tf.tidy(() => tf.mul(tensor(x), tensor(scale)));
    expect(y.shape).toEqual([n, h, w, c]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(ref.dataSync()));
    expect(() =>
      tf.tidy(() =>
        tf.engine().runKernel(PIXEL_SCALE, { x: tensor(x), scale: tf.ones([1, h + 1, w, 1]) }, {}),
      ),
    ).toThrow(/TsnasPixelScale needs float32 x \[n, h, w, c\] and scale \[1, h, w, 1\]/);
    tf.dispose([y, ref]);
  });

  it('refuse a tensor outside the memory with an error naming the kernel, and write nothing', async () => {
    const { createRequire } = await import('node:module');
    const addon = createRequire(import.meta.url)(NATIVE_KERNELS_PATH) as {
      pointwise_conv(m: ArrayBuffer, ...a: number[]): void;
      dw_conv(m: ArrayBuffer, ...a: number[]): void;
    };
    const memory = new ArrayBuffer(1024);
    const view = new Float32Array(memory);
    view.fill(7);
    // y would end at byte 64 + 4 * 4 * 16 = 320 -- fine -- but x at 960 runs 64 floats past the end.
    expect(() => addon.pointwise_conv(memory, 960, 16, 64, 4, 16, 4)).toThrow(
      /pointwise_conv: a tensor at byte 960/,
    );
    expect(() => addon.pointwise_conv(memory, 4, 16, 64, 4, 16)).toThrow(/expected the memory and 6 numbers/);
    expect(() => addon.dw_conv(memory, 4, 8, 0, 16, 1, 2, 2, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0)).toThrow(
      /dw_conv: unsupported geometry .*c 3/,
    );
    expect(view.every((v) => v === 7)).toBe(true);
  });
});
