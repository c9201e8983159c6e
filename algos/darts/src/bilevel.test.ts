import '@tensorflow/tfjs-backend-cpu';
import type { Batch, TrainableModel } from '@tsnas/trainer';
import { registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { BilevelArchTrainer, type BilevelTrainerConf } from './bilevel.js';

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

// A model small enough to differentiate by hand: logits = (x @ W) * a, with weights W (4x3) and
// "architecture" a (3). The test recomputes everything in float64 plain JavaScript.
const W0 = [0.3, -0.2, 0.1, 0.05, 0.4, -0.3, -0.1, 0.2, 0.25, 0.15, -0.05, 0.1];
const A0 = [0.9, 1.2, 0.7];
const XT = [
  [1, 0.5, -0.2, 0.3],
  [-0.4, 1, 0.6, -0.1],
  [0.2, -0.3, 1, 0.8],
];
const YT = [0, 1, 2];
const XV = [
  [0.5, 0.2, 0.1, -0.6],
  [0.1, -0.8, 0.4, 0.9],
];
const YV = [2, 0];

class TinyModel implements TrainableModel {
  w = tf.variable(tf.tensor2d(W0, [4, 3]));
  a = tf.variable(tf.tensor1d(A0));
  forward(x: tf.Tensor4D) {
    const flat = tf.reshape(x, [x.shape[0], 4]);
    return { logits: tf.mul(tf.matMul(flat, this.w), this.a) as tf.Tensor2D, aux: null };
  }
  weights() {
    return new Map([['w', this.w]]);
  }
  archParams() {
    return new Map([['a', this.a]]);
  }
  buffers() {
    return new Map<string, tf.Variable>();
  }
  setDropPathProb() {}
  getState() {
    return new Map<string, tf.Tensor>();
  }
  setState() {}
}

function batch(xs: number[][], ys: number[]): Batch {
  return { x: tf.tensor4d(xs.flat(), [xs.length, 2, 2, 1]), y: tf.tensor1d(ys, 'int32') };
}

/** Mean cross-entropy of logits z = (x @ w) * a and its gradient w.r.t. w, in float64. */
function lossAndGradW(w: number[], a: number[], xs: number[][], ys: number[]) {
  let loss = 0;
  const g = new Array(12).fill(0);
  for (let i = 0; i < xs.length; i++) {
    const z = [0, 1, 2].map((c) => a[c] * xs[i].reduce((s, xij, j) => s + xij * w[j * 3 + c], 0));
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((s, v) => s + v, 0);
    const p = e.map((v) => v / sum);
    loss += -Math.log(p[ys[i]]);
    for (let j = 0; j < 4; j++)
      for (let c = 0; c < 3; c++)
        g[j * 3 + c] += (xs[i][j] * a[c] * (p[c] - (c === ys[i] ? 1 : 0))) / xs.length;
  }
  return { loss: loss / xs.length, g };
}

const LR = 0.1;
const WD = 3e-4;

function conf(unrolled: boolean): BilevelTrainerConf {
  return {
    title: 'search',
    epochs: 1,
    optimizer: { type: 'sgd', lr: LR, momentum: 0.9, decay: WD },
    alpha_optimizer: { type: 'adam', lr: 3e-4, decay: 1e-3, betas: [0.5, 0.999] },
    unrolled,
  };
}

function numericGrad(f: (a: number[]) => number, a: number[], h = 1e-5): number[] {
  return a.map((_, k) => {
    const up = [...a];
    const down = [...a];
    up[k] += h;
    down[k] -= h;
    return (f(up) - f(down)) / (2 * h);
  });
}

describe('BilevelArchTrainer', () => {
  it('first order: the alpha gradient is the gradient of the validation loss', () => {
    const t = new BilevelArchTrainer(conf(false), new TinyModel());
    const g = t.archGradients(batch(XT, YT), batch(XV, YV));
    const expected = numericGrad((a) => lossAndGradW(W0, a, XV, YV).loss, A0);
    const got = Array.from(g.get('a')!.dataSync());
    got.forEach((v, k) => expect(v).toBeCloseTo(expected[k], 5));
  });

  it('second order: matches d/d(alpha) of L_val(w - lr * (dL_train/dw + wd * w), alpha)', () => {
    const model = new TinyModel();
    const t = new BilevelArchTrainer(conf(true), model);
    const before = tf.memory().numTensors;
    const g = t.archGradients(batch(XT, YT), batch(XV, YV));
    // The unrolled objective, computed directly (no momentum buffer yet, so m = 0).
    const unrolledValLoss = (a: number[]) => {
      const { g: gw } = lossAndGradW(W0, a, XT, YT);
      const w1 = W0.map((w, i) => w - LR * (gw[i] + WD * w));
      return lossAndGradW(w1, a, XV, YV).loss;
    };
    const expected = numericGrad(unrolledValLoss, A0);
    const firstOrder = numericGrad((a) => lossAndGradW(W0, a, XV, YV).loss, A0);
    const got = Array.from(g.get('a')!.dataSync());
    got.forEach((v, k) => {
      expect(Math.abs(v - expected[k])).toBeLessThan(2e-4);
    });
    // The second-order term is not negligible here, so the test tells the two apart.
    expect(Math.max(...expected.map((e, k) => Math.abs(e - firstOrder[k])))).toBeGreaterThan(1e-3);
    // Weights are restored exactly and nothing leaks beyond the returned gradient.
    Array.from(model.w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(W0[i], 7));
    g.get('a')!.dispose();
    expect(tf.memory().numTensors).toBe(before + 4); // the two test batches (x, y each)
  });
});

describe('BilevelArchTrainer with batch_chunks', () => {
  it('first order: chunked alpha gradient equals the full batch gradient', () => {
    const XV4 = [...XV, [0.3, 0.3, -0.2, 0.1], [-0.5, 0.2, 0.7, 0.4]];
    const YV4 = [...YV, 1, 0];
    const full = new BilevelArchTrainer(conf(false), new TinyModel()).archGradients(
      batch(XT, YT),
      batch(XV4, YV4),
    );
    const chunked = new BilevelArchTrainer(
      { ...conf(false), batch_chunks: 2 },
      new TinyModel(),
    ).archGradients(batch(XT, YT), batch(XV4, YV4));
    const a = Array.from(full.get('a')!.dataSync());
    Array.from(chunked.get('a')!.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(a[k], 6));
  });

  it('second order: the val-size-weighted sum of each (train, val) chunk pair, train reused when short', () => {
    // batch_chunks 3. val: 5 rows in chunks of 2, 2, 1; train: 2 rows in chunks of 1, 1, so the
    // third val chunk pairs with train's first.
    const XV5 = [...XV, [0.3, 0.3, -0.2, 0.1], [-0.5, 0.2, 0.7, 0.4], [0.6, -0.1, 0.2, -0.3]];
    const YV5 = [...YV, 1, 0, 2];
    const XT2 = XT.slice(0, 2);
    const YT2 = YT.slice(0, 2);
    const pairs = [
      { t: [0, 1], v: [0, 2] },
      { t: [1, 2], v: [2, 4] },
      { t: [0, 1], v: [4, 5] },
    ];
    const want = [0, 0, 0];
    for (const { t, v } of pairs) {
      const g = new BilevelArchTrainer(conf(true), new TinyModel()).archGradients(
        batch(XT2.slice(t[0], t[1]), YT2.slice(t[0], t[1])),
        batch(XV5.slice(v[0], v[1]), YV5.slice(v[0], v[1])),
      );
      g.get('a')!
        .dataSync()
        .forEach((x, k) => {
          want[k] += (x * (v[1] - v[0])) / 5;
        });
    }
    const chunked = new BilevelArchTrainer({ ...conf(true), batch_chunks: 3 }, new TinyModel()).archGradients(
      batch(XT2, YT2),
      batch(XV5, YV5),
    );
    Array.from(chunked.get('a')!.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(want[k], 6));
    // ...which is not the unchunked second-order gradient (the unrolled step is not linear in rows).
    const whole = new BilevelArchTrainer(conf(true), new TinyModel()).archGradients(
      batch(XT2, YT2),
      batch(XV5, YV5),
    );
    const diff = Array.from(whole.get('a')!.dataSync()).map((v, k) => Math.abs(v - want[k]));
    expect(Math.max(...diff)).toBeGreaterThan(1e-4);
  });
});
