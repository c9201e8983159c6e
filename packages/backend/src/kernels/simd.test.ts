// The SIMD kernels (simd/kernels.c) against the composite kernels they replace, on channel counts
// that exercise both the 4-lane blocks and the scalar remainder.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  depthwiseCases,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  PADS,
  randn,
  relError,
  setupBackends,
  tensor,
} from '../../test/helpers.js';
import { setSimdKernelsEnabled, simdKernels } from './simd.js';
import { RELU_GRAD } from './wasm-kernels.js';

type Pad = tf.Conv2DAttrs['pad'];

beforeAll(async () => {
  await setupBackends({ checkKernelLeaks: true });
  await tf.setBackend('wasm');
});

/** Runs `f` with the SIMD kernels on, then off; returns both results' data. */
function bothPaths(f: () => tf.Tensor): [Float32Array, Float32Array] {
  onTestFinished(() => setSimdKernelsEnabled(true));
  const results: Float32Array[] = [];
  for (const on of [true, false]) {
    setSimdKernelsEnabled(on);
    const t = tf.tidy(f);
    results.push(t.dataSync() as Float32Array);
    t.dispose();
  }
  return [results[0], results[1]];
}

describe('SIMD kernels on the wasm backend', () => {
  it('load on the wasm backend, sharing its memory', () => {
    expect(simdKernels(tf.backend())).not.toBeNull();
  });

  it.each([4, 5, 8, 16])(
    'depthwise input and filter gradients match the composites with %i channels',
    (c) => {
      const cases = depthwiseCases(c, 9, 8, PADS);
      for (const t of cases) {
        const [dxSimd, dxComposite] = bothPaths(() => depthwiseInputGrad(t));
        const [dfSimd, dfComposite] = bothPaths(() => depthwiseFilterGrad(t));
        expect(relError(dxSimd, dxComposite), `dx ${t.where}`).toBeLessThan(1e-5);
        expect(relError(dfSimd, dfComposite), `df ${t.where}`).toBeLessThan(1e-5);
      }
      expect(cases.length).toBeGreaterThan(20);
    },
  );

  it.each([3, 4, 8])('MaxPoolGrad matches the composite, ties included, with %i channels', (c) => {
    for (const [k, stride, pad] of [
      [3, 1, 'same'],
      [3, 2, 'same'],
      [2, 2, 'valid'],
      [3, 2, 1],
    ] as [number, number, Pad][]) {
      // ReLU'd, coarsely rounded data: many windows hold several equal maxima (often zeros).
      const raw = randn([2, 7, 6, c], 40 + c);
      const x = { ...raw, data: raw.data.map((v) => Math.max(0, Math.round(v * 2) / 2)) };
      const [simd, composite] = bothPaths(() =>
        tf.grad((t: tf.Tensor) => {
          const pooled = tf.maxPool(t as tf.Tensor4D, k, stride, pad);
          return tf.sum(tf.mul(pooled, tf.randomNormal(pooled.shape, 0, 1, 'float32', 7)));
        })(tensor(x)),
      );
      // Overlapping windows add into the same pixel in another order: equal up to rounding, and
      // the gradient reaches exactly the same pixels (the tie rule).
      const where = `k=${k} stride=${stride} pad=${pad}`;
      expect(relError(simd, composite), where).toBeLessThan(1e-6);
      expect(
        Array.from(simd, (v) => v !== 0),
        where,
      ).toEqual(Array.from(composite, (v) => v !== 0));
    }
  });

  it.each([3, 4, 16])(
    'depthwise forward (plain and fused with a bias) matches XNNPACK with %i channels',
    (c) => {
      for (const [k, stride, dilation, pad] of [
        [3, 1, 1, 'same'],
        [5, 1, 2, 'same'],
        [3, 2, 1, 'same'],
        [3, 1, 1, 'valid'],
        [
          3,
          2,
          1,
          [
            [0, 0],
            [1, 2],
            [2, 0],
            [0, 0],
          ],
        ],
      ] as [number, number, number, Pad][]) {
        const x = randn([2, 9, 8, c], 60 + c);
        const f = randn([k, k, c, 1], 61 + c);
        const bias = randn([c], 62 + c);
        const where = `k=${k} stride=${stride} dilation=${dilation} pad=${JSON.stringify(pad)}`;
        const [plain, native] = bothPaths(() =>
          tf.depthwiseConv2d(
            tensor(x) as tf.Tensor4D,
            tensor(f) as tf.Tensor4D,
            stride,
            pad,
            'NHWC',
            dilation,
          ),
        );
        expect(relError(plain, native), where).toBeLessThan(1e-5);
        if (Array.isArray(pad)) continue; // tf.fused.depthwiseConv2d takes no explicit padding
        const [fused, fusedNative] = bothPaths(() =>
          tf.fused.depthwiseConv2d({
            x: tensor(x) as tf.Tensor4D,
            filter: tensor(f) as tf.Tensor4D,
            strides: stride,
            pad: pad as 'same' | 'valid' | number,
            dilations: dilation,
            bias: tensor(bias),
          }),
        );
        expect(relError(fused, fusedNative), `fused ${where}`).toBeLessThan(1e-5);
      }
    },
  );

  it("concat and slice along any axis match wasm's own kernels", () => {
    const a = randn([2, 3, 4, 5], 70);
    const b = randn([2, 3, 4, 3], 71);
    for (const axis of [0, 1, 2, 3, -1]) {
      const other = { data: randn([2, 3, 4, 5], 72).data, shape: [2, 3, 4, 5] };
      const [ours, native] = bothPaths(() => tf.concat([tensor(a), tensor(other)], axis));
      expect(Array.from(ours), `concat axis ${axis}`).toEqual(Array.from(native));
    }
    const [ours, native] = bothPaths(() => tf.concat([tensor(a), tensor(b), tensor(a)], 3));
    expect(Array.from(ours)).toEqual(Array.from(native));
    for (const [begin, size] of [
      [
        [0, 0, 0, 2],
        [2, 3, 4, 3],
      ],
      [
        [0, 1, 0, 0],
        [2, 2, 4, 5],
      ],
      [
        [1, 0, 0, 0],
        [1, -1, -1, -1],
      ],
      [
        [0, 1, 1, 1],
        [2, 1, 2, 3],
      ], // not a run of rows: wasm's own Slice
    ] as [number[], number[]][]) {
      const [s1, s2] = bothPaths(() => tf.slice(tensor(a), begin, size));
      expect(Array.from(s1), `slice ${begin} ${size}`).toEqual(Array.from(s2));
    }
  });

  it.each([7, 8, 4 * 33 + 3])("ReLU's gradient (RELU_GRAD) is tfjs's dy * step(x) on %i values", (n) => {
    const x = randn([n], 80).data;
    x[0] = 0; // step(0) = 0: no gradient at the kink
    x[n - 1] = -0.5;
    const dy = randn([n], 81).data;
    const ours = tf.tidy(() =>
      tf.engine().runKernel(RELU_GRAD, { dy: tf.tensor1d(dy), x: tf.tensor1d(x) }, {}),
    ) as tf.Tensor;
    const plain = tf.tidy(() => tf.mul(tf.tensor1d(dy), tf.step(tf.tensor1d(x))));
    // +0 and -0 compare equal here: the kernel writes +0 where the product gives -0.
    expect(Array.from(ours.dataSync()).map((v) => v + 0)).toEqual(
      Array.from(plain.dataSync()).map((v) => v + 0),
    );
    expect(ours.dataSync()[0]).toBe(0);
    tf.dispose([ours, plain]);
    expect(() =>
      tf.tidy(() => tf.engine().runKernel(RELU_GRAD, { dy: tf.zeros([3]), x: tf.zeros([4]) }, {})),
    ).toThrow(/TsnasReluGrad needs float32 dy and x of one size, got \[3\] and \[4\]/);
  });

  it('leave no tensors behind', () => {
    const before = tf.memory().numTensors;
    const x = tensor(randn([1, 6, 6, 4], 3));
    const g = tf.grad((t: tf.Tensor) =>
      tf.sum(tf.depthwiseConv2d(t as tf.Tensor4D, tf.ones([3, 3, 4, 1]), 1, 'same')),
    )(x);
    expect(g.shape).toEqual([1, 6, 6, 4]);
    tf.dispose([x, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, '..', '..', 'scripts', 'build-simd.mjs');
// Byte equality holds for the compiler that built the module (Debian's clang 14, which .ci/run
// installs); another clang version emits other bytes, and the check is then not made.
const sameClang = spawnSync('node', [script, '--same-compiler']).status === 0;
describe('the committed module', () => {
  it.runIf(sameClang)('is the build of simd/kernels.c (needs the clang that built it, lld, llvm)', () => {
    const r = spawnSync('node', [script, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
