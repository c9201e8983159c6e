import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { seedEverything } from '@tsnas/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { opDesc, ramp, useCpu } from '../__tests__/fixtures.js';
import { expectClose } from '../__tests__/reference.js';
import { BatchNorm2d } from '../layers.js';
import type { Op } from '../op.js';
import { ConvBNReLU, DilConv, FactorizedReduce, ReLUConvBN, SepConv, StemConv3x3 } from '../primitives.js';
import { constants } from './fused.js';

beforeAll(useCpu);

/** The training-mode BN written with plain, autodiffed tfjs ops (the pre-fusion implementation). */
function plainBN(bn: BatchNorm2d, x: tf.Tensor4D): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  let scale = tf.rsqrt(tf.add(variance, bn.eps));
  if (bn.gamma) scale = tf.mul(scale, bn.gamma);
  const y = tf.mul(tf.sub(x, mean), scale);
  return (bn.beta ? tf.add(y, bn.beta) : y) as tf.Tensor4D;
}

function plainDil(op: DilConv, x: tf.Tensor4D): tf.Tensor4D {
  return plainBN(op.bn, op.pointwise.forward(op.depthwise.forward(tf.relu(x))));
}

/** Each op's training forward, composed from plain tfjs ops. */
function plainForward(op: Op, x: tf.Tensor4D): tf.Tensor4D {
  if (op instanceof SepConv) return plainDil(op.conv2, plainDil(op.conv1, x));
  if (op instanceof DilConv) return plainDil(op, x);
  if (op instanceof ReLUConvBN) return plainBN(op.bn, op.conv.forward(tf.relu(x)));
  if (op instanceof ConvBNReLU) return tf.relu(plainBN(op.bn, op.conv.forward(x)));
  if (op instanceof StemConv3x3) {
    const y = plainBN(op.bn, op.conv.forward(x));
    return op.relu ? tf.relu(y) : y;
  }
  if (op instanceof FactorizedReduce) {
    const r = tf.relu(x);
    const [b, h, w, c] = r.shape;
    const shifted = tf.pad(tf.slice(r, [0, 1, 1, 0], [b, h - 1, w - 1, c]), [
      [0, 0],
      [0, h % 2],
      [0, w % 2],
      [0, 0],
    ]);
    return plainBN(op.bn, tf.concat([op.conv1.forward(r), op.conv2.forward(shifted)], 3));
  }
  throw new Error(`no plain reference for ${op.constructor.name}`);
}

type Named = [string, tf.Variable];

/** Loss weights unrelated to the ramp inputs (a ramp would make some gradients cancel to ~0). */
function weightsLike(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.61 + 0.2) * (1 + (i % 3))),
    shape,
  );
}

/** d sum(f(x) * r) / d vars, as plain arrays by name. */
function gradsOf(
  f: (x: tf.Tensor4D) => tf.Tensor4D,
  x: tf.Variable,
  vars: Named[],
): Map<string, Float32Array> {
  const r = tf.tidy(() => weightsLike(f(x as tf.Tensor4D).shape));
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(f(x as tf.Tensor4D), r)) as tf.Scalar,
    vars.map(([, v]) => v),
  );
  const out = new Map(vars.map(([name, v]) => [name, Float32Array.from(grads[v.name].dataSync())]));
  tf.dispose([r, value, ...Object.values(grads)]);
  return out;
}

/** Max error relative to the reference tensor's largest magnitude, per tensor. */
function expectSame(actual: Map<string, Float32Array>, expected: Map<string, Float32Array>, tol = 1e-4) {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, e] of expected) {
    const scale = Math.max(...Array.from(e, Math.abs), 1e-6);
    try {
      expectClose(
        Array.from(actual.get(name)!, (v) => v / scale),
        Array.from(e, (v) => v / scale),
        tol,
      );
    } catch (err) {
      throw new Error(`${name}: ${(err as Error).message}`);
    }
  }
}

interface Case {
  name: string;
  make: () => Op;
  input: [number, number, number, number];
}

const cases: Case[] = [
  {
    name: 'prepr_normal (ReLU, 1x1 conv, BN)',
    make: () => new ReLUConvBN(opDesc('prepr_normal', 6, 4), 1, 1, 0, false),
    input: [2, 5, 5, 6],
  },
  {
    name: 'sep_conv_3x3 stride 1',
    make: () => new SepConv(opDesc('sep_conv_3x3', 4, 4), 3, 1, false),
    input: [2, 7, 7, 4],
  },
  {
    name: 'sep_conv_5x5 stride 2, odd size',
    make: () => new SepConv(opDesc('sep_conv_5x5', 4, 4, 2), 5, 2, false),
    input: [2, 9, 9, 4],
  },
  {
    name: 'sep_conv_3x3 affine',
    make: () => new SepConv(opDesc('sep_conv_3x3', 3, 5), 3, 1, true),
    input: [2, 6, 6, 3],
  },
  {
    name: 'dil_conv_3x3 stride 1 (native dilation)',
    make: () => new DilConv(opDesc('dil_conv_3x3', 4, 4), 3, 1, 2, 2, false),
    input: [2, 8, 8, 4],
  },
  {
    name: 'dil_conv_5x5 stride 2 (rewritten dilation)',
    make: () => new DilConv(opDesc('dil_conv_5x5', 4, 4, 2), 5, 2, 4, 2, false),
    input: [2, 9, 9, 4],
  },
  {
    name: 'stem_conv3x3 (affine BN)',
    make: () => new StemConv3x3(opDesc('stem_conv3x3', 3, 6), true),
    input: [2, 6, 6, 3],
  },
  {
    name: 'stem_conv3x3Relu',
    make: () => new StemConv3x3(opDesc('stem_conv3x3Relu', 3, 6), true, true),
    input: [2, 6, 6, 3],
  },
  {
    name: 'convbnrelu_3x3',
    make: () => new ConvBNReLU(opDesc('convbnrelu_3x3', 4, 4), 3, 1, false),
    input: [2, 6, 6, 4],
  },
  {
    name: 'prepr_reduce (FactorizedReduce), odd size',
    make: () => new FactorizedReduce(opDesc('prepr_reduce', 4, 6), false),
    input: [2, 7, 7, 4],
  },
  {
    name: 'prepr_reduce affine, even size',
    make: () => new FactorizedReduce(opDesc('prepr_reduce', 3, 4), true),
    input: [2, 6, 6, 3],
  },
];

describe('fused training layers give the gradients of their plain composition (cpu)', () => {
  for (const c of cases) {
    it(c.name, () => {
      seedEverything(3);
      const op = c.make();
      const x = tf.variable(ramp(c.input, 1));
      const vars: Named[] = [['x', x], ...op.namedWeights()];
      const fused = gradsOf((t) => op.forward(t, true), x, vars);
      const plain = gradsOf((t) => plainForward(op, t), x, vars);
      expectSame(fused, plain);
      op.dispose();
      x.dispose();
    });
  }

  it('BatchNorm2d alone, affine and not', () => {
    for (const affine of [false, true]) {
      const bn = new BatchNorm2d(3, affine);
      if (bn.gamma) bn.gamma.assign(tf.tensor1d([0.5, 2, -1.5]));
      if (bn.beta) bn.beta.assign(tf.tensor1d([0.1, 0, -0.3]));
      const x = tf.variable(ramp([2, 3, 3, 3], 1));
      const vars: Named[] = [['x', x], ...bn.namedWeights()];
      expectSame(
        gradsOf((t) => bn.forward(t, true), x, vars),
        gradsOf((t) => plainBN(bn, t), x, vars),
      );
      bn.dispose();
      x.dispose();
    }
  });
});

describe('fused layers compute only the gradients asked for, and free everything', () => {
  it('input-only and weights-only gradients equal the full ones; no tensor outlives the call', () => {
    seedEverything(5);
    const op = new SepConv(opDesc('sep_conv_3x3', 4, 4), 3, 1, false);
    const x = tf.variable(ramp([2, 6, 6, 4], 1));
    const weights = [...op.namedWeights()];
    const full = gradsOf((t) => op.forward(t, true), x, [['x', x], ...weights]);
    const before = tf.memory().numTensors;
    const xOnly = gradsOf((t) => op.forward(t, true), x, [['x', x]]);
    const wOnly = gradsOf((t) => op.forward(t, true), x, weights);
    expect(tf.memory().numTensors).toBe(before);
    expect(xOnly.get('x')).toEqual(full.get('x'));
    for (const [name] of weights) expect(wOnly.get(name)).toEqual(full.get(name));
    op.dispose();
    x.dispose();
  });

  it('running statistics follow PyTorch (biased variance to normalise, unbiased to track)', () => {
    const bn = new BatchNorm2d(2, false);
    // Channel 0: 1..8 (mean 4.5, biased var 5.25, unbiased 6); channel 1: twice that.
    const v: number[] = [];
    for (let i = 1; i <= 8; i++) v.push(i, 2 * i);
    const x = tf.tensor4d(v, [2, 2, 2, 2]);
    const y = tf.tidy(() => bn.forward(x, true));
    expect(Array.from(bn.runningMean.dataSync())).toEqual([expect.closeTo(0.45, 6), expect.closeTo(0.9, 6)]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([expect.closeTo(1.5, 6), expect.closeTo(3.3, 6)]);
    expect(y.dataSync()[0]).toBeCloseTo((1 - 4.5) / Math.sqrt(5.25 + 1e-5), 5);
    bn.dispose();
  });

  it('constants are made once per key, outside every tidy, and freed by disposeConstants', async () => {
    const { disposeConstants } = await import('./fused.js');
    disposeConstants();
    const make = () => tf.fill([2, 2], 0.25);
    const a = tf.tidy(() => constants.get('test:quarter', make));
    expect(a.isDisposed).toBe(false);
    expect(tf.tidy(() => constants.get('test:quarter', make))).toBe(a);
    expect(constants.size).toBe(1);
    const before = tf.memory().numTensors;
    disposeConstants();
    expect(tf.memory().numTensors).toBe(before - 1);
    expect(a.isDisposed).toBe(true);
    // Rebuilt on demand after being freed.
    expect(Array.from(constants.get('test:quarter', make).dataSync())).toEqual([0.25, 0.25, 0.25, 0.25]);
    disposeConstants();
  });
});
