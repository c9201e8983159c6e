import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '@tsnas/backend';
import { beforeAll, describe, expect, it } from 'vitest';
import { useCpu } from './__tests__/fixtures.js';
import { BatchNorm2d, DropPath, Linear } from './index.js';

beforeAll(useCpu);

describe('BatchNorm2d', () => {
  // Two channels over 8 positions: channel 0 is 1..8, channel 1 is twice that.
  const input = () => {
    const v: number[] = [];
    for (let i = 1; i <= 8; i++) v.push(i, 2 * i);
    return tf.tensor4d(v, [2, 2, 2, 2]);
  };

  it('training: normalises with the biased variance, updates running stats with the unbiased one (momentum 0.1)', () => {
    const bn = new BatchNorm2d(2, true);
    bn.gamma!.assign(tf.tensor1d([2, 3]));
    bn.beta!.assign(tf.tensor1d([0.5, -1]));
    const y = bn.forward(input(), true);
    // Channel 0: mean 4.5, biased var 5.25, unbiased var 6. Channel 1: mean 9, var 21 / 24.
    expect(Array.from(bn.runningMean.dataSync())).toEqual([expect.closeTo(0.45, 6), expect.closeTo(0.9, 6)]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([
      expect.closeTo(0.9 + 0.6, 6),
      expect.closeTo(0.9 + 2.4, 6),
    ]);
    const yv = y.dataSync();
    expect(yv[0]).toBeCloseTo(((1 - 4.5) / Math.sqrt(5.25 + 1e-5)) * 2 + 0.5, 5);
    expect(yv[15]).toBeCloseTo(((16 - 9) / Math.sqrt(21 + 1e-5)) * 3 - 1, 5);

    // A second step compounds: rm = 0.9*0.45 + 0.1*4.5.
    bn.forward(input(), true);
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.9 * 0.45 + 0.45, 6);
    expect(bn.runningVar.dataSync()[0]).toBeCloseTo(0.9 * 1.5 + 0.6, 6);
  });

  it('eval: uses the running statistics and leaves them alone', () => {
    const bn = new BatchNorm2d(2, true);
    bn.forward(input(), true);
    const y = bn.forward(input(), false);
    expect(y.dataSync()[0]).toBeCloseTo((1 - 0.45) / Math.sqrt(1.5 + 1e-5), 5);
    expect(y.dataSync()[1]).toBeCloseTo((2 - 0.9) / Math.sqrt(3.3 + 1e-5), 5);
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.45, 6);
  });

  it('affine=false has no weights, only the two buffers', () => {
    const bn = new BatchNorm2d(3, false);
    expect(bn.namedWeights().size).toBe(0);
    expect([...bn.namedBuffers().keys()]).toEqual(['running_mean', 'running_var']);
    const affine = new BatchNorm2d(3, true);
    expect([...affine.namedWeights().keys()]).toEqual(['weight', 'bias']);
    expect(Array.from(affine.gamma!.dataSync())).toEqual([1, 1, 1]);
    expect(Array.from(affine.beta!.dataSync())).toEqual([0, 0, 0]);
  });

  it('training on one value per channel is an error, as in PyTorch', () => {
    expect(() => new BatchNorm2d(2, true).forward(tf.ones([1, 1, 1, 2]), true)).toThrow(
      /more than 1 value per channel/,
    );
  });
});

describe('init', () => {
  it('Linear weight and bias are U(-1/sqrt(fan_in), 1/sqrt(fan_in))', () => {
    const lin = new Linear(64, 50);
    const w = Array.from(lin.weight.dataSync());
    const bound = 1 / 8;
    expect(Math.max(...w)).toBeLessThanOrEqual(bound);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(-bound);
    // 3200 uniform draws: the extremes come close to the bound, the variance is bound^2/3.
    expect(Math.max(...w)).toBeGreaterThan(0.95 * bound);
    const variance = w.reduce((a, v) => a + v * v, 0) / w.length;
    expect(variance).toBeGreaterThan((0.9 * (bound * bound)) / 3);
    expect(variance).toBeLessThan((1.1 * (bound * bound)) / 3);
    expect(Math.max(...Array.from(lin.bias.dataSync(), Math.abs))).toBeLessThanOrEqual(bound);
  });
});

describe('DropPath', () => {
  it('zeroes whole samples with probability p and scales survivors by 1/(1-p)', () => {
    const rng = new SeededRng(7);
    const dp = new DropPath(() => rng);
    dp.p = 0.25;
    const x = tf.ones([400, 2, 2, 1]) as tf.Tensor4D;
    const y = dp.forward(x, true).arraySync();
    let kept = 0;
    for (const sample of y) {
      const vals = sample.flat(2);
      expect(new Set(vals).size).toBe(1); // one mask value per sample
      if (vals[0] !== 0) {
        expect(vals[0]).toBeCloseTo(1 / 0.75, 6);
        kept++;
      }
    }
    expect(kept / 400).toBeGreaterThan(0.68);
    expect(kept / 400).toBeLessThan(0.82);
  });

  it('the same seed gives the same mask; eval mode and p=0 pass the input through', () => {
    const run = (seed: number) => {
      const rng = new SeededRng(seed);
      const dp = new DropPath(() => rng);
      dp.p = 0.5;
      return Array.from(tf.reshape(dp.forward(tf.ones([32, 1, 1, 1]) as tf.Tensor4D, true), [-1]).dataSync());
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
    const dp = new DropPath(() => new SeededRng(1));
    const x = tf.ones([4, 1, 1, 1]) as tf.Tensor4D;
    dp.p = 0.5;
    expect(dp.forward(x, false)).toBe(x);
    dp.p = 0;
    expect(dp.forward(x, true)).toBe(x);
  });
});
