import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ramp, useCpu } from '../__tests__/fixtures.js';
import { expectClose, ptOut, refAvgPool, refConv } from '../__tests__/reference.js';
import {
  avgPoolExcludePad,
  conv2dPt,
  dilatedByRewrite,
  dilateKernel,
  maxPoolPt,
  outSize,
  subsample,
} from './functional.js';

beforeAll(useCpu);

describe('subsample (x[:, ::s, ::s])', () => {
  it('keeps every s-th row and column, ceil(H/s) of them, for odd and even sizes', () => {
    for (const [h, w] of [
      [7, 7],
      [8, 8],
      [7, 8],
    ]) {
      const x = tf.tensor4d(
        Array.from({ length: h * w * 2 }, (_, i) => i),
        [1, h, w, 2],
      );
      const y = subsample(x, 2);
      expect(y.shape).toEqual([1, Math.ceil(h / 2), Math.ceil(w / 2), 2]);
      const xv = x.arraySync()[0];
      const expected = xv.filter((_, r) => r % 2 === 0).map((row) => row.filter((_, c) => c % 2 === 0));
      expect(y.arraySync()[0]).toEqual(expected);
    }
  });
});

describe('conv2dPt matches a PyTorch-semantics reference', () => {
  // (k, stride, pad, dilation) of every conv in the primitives, plus the stems' 3x3 s2.
  const geometries: [number, number, number, number][] = [
    [3, 1, 1, 1],
    [3, 2, 1, 1],
    [5, 1, 2, 1],
    [5, 2, 2, 1],
    [7, 2, 3, 1],
    [3, 1, 2, 2],
    [3, 2, 2, 2],
    [5, 1, 4, 2],
    [5, 2, 4, 2],
    [1, 2, 0, 1],
    [3, 3, 2, 2], // neither stride 1 nor stride == dilation: the dilated-kernel path
  ];
  for (const [k, s, p, d] of geometries) {
    for (const size of [7, 8]) {
      for (const depthwise of [true, false]) {
        it(`k${k} s${s} p${p} d${d} on ${size}x${size} ${depthwise ? 'depthwise' : 'dense'}`, () => {
          const cin = 3;
          const x = ramp([2, size, size, cin]);
          const w = ramp([k, k, cin, depthwise ? 1 : 2], 0.05);
          const y = conv2dPt(x, w, { stride: s, pad: p, dilation: d, depthwise });
          const ref = refConv(x, w, s, p, d, depthwise);
          expect(y.shape).toEqual(ref.shape);
          expect(y.shape[1]).toBe(ptOut(size, k, s, p, d));
          expectClose(y.dataSync(), ref.data, 1e-4);
          if (d > 1) {
            const z = dilatedByRewrite(x, w, { stride: s, pad: p, dilation: d, depthwise });
            expectClose(z.dataSync(), ref.data, 1e-4);
          }
        });
      }
    }
  }

  it('dilated convs have the gradient of the same conv with a zero-spread kernel', () => {
    const variants = [
      { name: 'native depthwise', conv: conv2dPt, depthwise: true },
      { name: 'rewritten depthwise', conv: dilatedByRewrite, depthwise: true },
      { name: 'rewritten dense', conv: conv2dPt, depthwise: false },
    ];
    for (const { name, conv, depthwise } of variants) {
      for (const s of [1, 2]) {
        const x = ramp([1, 7, 7, 2]);
        const w = ramp([3, 3, 2, depthwise ? 1 : 3], 0.2);
        const n = ptOut(7, 3, s, 2, 2);
        const dy = ramp([1, n, n, depthwise ? 2 : 3], 1);
        const geometry = { stride: s, pad: 2, dilation: 2, depthwise };
        const f = (xx: tf.Tensor, ww: tf.Tensor) =>
          tf.sum(tf.mul(conv(xx as tf.Tensor4D, ww as tf.Tensor4D, geometry), dy));
        const g = (xx: tf.Tensor, ww: tf.Tensor) => {
          const spread = dilateKernel(ww as tf.Tensor4D, 2);
          const y = depthwise
            ? tf.depthwiseConv2d(xx as tf.Tensor4D, spread, s, 2)
            : tf.conv2d(xx as tf.Tensor4D, spread, s, 2);
          return tf.sum(tf.mul(y, dy));
        };
        const [gx1, gw1] = tf.grads(f)([x, w]);
        const [gx2, gw2] = tf.grads(g)([x, w]);
        expect(gw1.shape, name).toEqual(w.shape);
        expectClose(gx1.dataSync(), gx2.dataSync(), 1e-4);
        expectClose(gw1.dataSync(), gw2.dataSync(), 1e-4);
        expect(tf.sum(tf.abs(gw1)).dataSync()[0]).toBeGreaterThan(0);
      }
    }
  });
});

describe('avg pool with count_include_pad=False', () => {
  it('divides corner, edge and inner windows by their real cell count (hand-computed)', () => {
    // 1..16 in a 4x4 map: the top-left 3x3 window at pad 1 covers {1,2,5,6} -> 14/4 = 3.5.
    const x = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => i + 1),
      [1, 4, 4, 1],
    );
    const y = avgPoolExcludePad(x, 3, 1, 1);
    expect(y.shape).toEqual([1, 4, 4, 1]);
    const v = y.dataSync();
    expect(v[0]).toBeCloseTo((1 + 2 + 5 + 6) / 4, 6);
    expect(v[1]).toBeCloseTo((1 + 2 + 3 + 5 + 6 + 7) / 6, 6);
    expect(v[5]).toBeCloseTo((1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11) / 9, 6);
    expect(v[15]).toBeCloseTo((11 + 12 + 15 + 16) / 4, 6);
    // Stride 2 on the even size: PyTorch windows start at -1 and 1.
    const y2 = avgPoolExcludePad(x, 3, 2, 1);
    expect(y2.shape).toEqual([1, 2, 2, 1]);
    expect(y2.dataSync()[0]).toBeCloseTo(3.5, 6);
    expect(y2.dataSync()[3]).toBeCloseTo((6 + 7 + 8 + 10 + 11 + 12 + 14 + 15 + 16) / 9, 6);
  });

  for (const size of [7, 8]) {
    for (const s of [1, 2]) {
      it(`matches the reference at stride ${s} on ${size}x${size}`, () => {
        const x = ramp([2, size, size, 3]);
        const ref = refAvgPool(x, 3, s, 1);
        const y = avgPoolExcludePad(x, 3, s, 1);
        expect(y.shape).toEqual(ref.shape);
        expectClose(y.dataSync(), ref.data);
      });
    }
  }

  it("tfjs avgPool 'same' is not a substitute: it pads asymmetrically at stride 2 on even sizes", () => {
    const x = ramp([1, 8, 8, 1]);
    const same = tf.avgPool(x, 3, 2, 'same');
    const ref = refAvgPool(x, 3, 2, 1);
    expect(same.shape).toEqual(ref.shape);
    const maxDiff = Math.max(...Array.from(same.dataSync(), (v, i) => Math.abs(v - ref.data[i])));
    expect(maxDiff).toBeGreaterThan(1e-3);
  });

  it('has the gradient of its own forward (tfjs AvgPoolGrad with padding would divide by 9)', () => {
    const x = ramp([1, 5, 5, 1]);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(avgPoolExcludePad(xx as tf.Tensor4D, 3, 1, 1)))(x);
    // d(sum)/dx[0,0] = sum over the 4 windows that contain the corner of 1/count: 1/4 + 2*(1/6) + 1/9.
    expect(g.dataSync()[0]).toBeCloseTo(1 / 4 + 2 / 6 + 1 / 9, 5);
  });
});

describe('max pool', () => {
  it('ignores padding (negative inputs stay negative) and has PyTorch sizes', () => {
    for (const size of [7, 8]) {
      for (const s of [1, 2]) {
        const x = tf.neg(tf.add(tf.abs(ramp([1, size, size, 2])), 1)) as tf.Tensor4D;
        const y = maxPoolPt(x, 3, s, 1);
        expect(y.shape).toEqual([1, outSize(size, 3, s, 1), outSize(size, 3, s, 1), 2]);
        expect(tf.max(y).dataSync()[0]).toBeLessThan(-1 + 1e-6);
      }
    }
  });
});
