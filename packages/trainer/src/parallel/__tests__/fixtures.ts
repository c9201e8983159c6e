// Models for the data-parallel tests. Replica factories here run inside worker threads (loaded
// through the recipe's module URL), the classes also in the test's own thread.
import { SeededRng } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import type { Batch, BatchSource, TrainableModel } from '../../trainable.js';
import type { TrainerConf } from '../../trainer.js';

let serial = 0;

/**
 * conv3x3 (1 -> 2 channels, SAME) -> relu -> linear (32 -> 3) -> * alpha, on 4x4x1 images. No batch
 * statistics, so every row's gradient is independent of the others. `seen` is a buffer that
 * counts the training rows the model ran on (it plays the part of BN running statistics).
 */
export class ConvNet implements TrainableModel {
  readonly id = serial++;
  k: tf.Variable;
  w: tf.Variable;
  b: tf.Variable;
  alpha: tf.Variable;
  seen: tf.Variable;
  throwOn: number | null = null;

  constructor(seed = 1) {
    const rng = new SeededRng(seed);
    const init = (shape: number[], scale: number) =>
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale);
    const variable = (values: number[], shape: number[], trainable: boolean, name: string) => {
      const t = tf.tensor(values, shape);
      const v = tf.variable(t, trainable, `${name}${this.id}`);
      t.dispose();
      return v;
    };
    this.k = variable(init([3, 3, 1, 2], 0.5), [3, 3, 1, 2], true, 'k');
    this.w = variable(init([32, 3], 0.3), [32, 3], true, 'w');
    this.b = variable([0, 0, 0], [3], true, 'b');
    this.alpha = variable([1, 0.8, 1.2], [3], true, 'alpha');
    this.seen = variable([0], [1], false, 'seen');
  }

  forward(x: tf.Tensor4D, training: boolean) {
    if (this.throwOn !== null && x.dataSync().includes(this.throwOn)) {
      throw new Error(`replica exploded on a row holding ${this.throwOn}`);
    }
    if (training) this.seen.assign(tf.add(this.seen, x.shape[0]));
    const h = tf.relu(tf.conv2d(x, this.k as tf.Tensor4D, 1, 'same'));
    const flat = tf.reshape(h, [x.shape[0], 32]);
    const logits = tf.mul(tf.add(tf.matMul(flat, this.w as tf.Tensor2D), this.b), this.alpha);
    return { logits: logits as tf.Tensor2D, aux: null };
  }
  weights() {
    return new Map([
      ['conv.weight', this.k],
      ['linear.weight', this.w],
      ['linear.bias', this.b],
    ]);
  }
  archParams() {
    return new Map([['alpha', this.alpha]]);
  }
  buffers() {
    return new Map([['seen', this.seen]]);
  }
  setDropPathProb() {}
  getState() {
    const out = new Map<string, tf.Tensor>();
    for (const m of [this.weights(), this.archParams(), this.buffers()])
      for (const [k, v] of m) out.set(k, v.clone());
    return out;
  }
  setState(s: Map<string, tf.Tensor>) {
    for (const m of [this.weights(), this.archParams(), this.buffers()])
      for (const [k, v] of m) v.assign(s.get(k)!);
  }
  dispose() {
    for (const v of [this.k, this.w, this.b, this.alpha, this.seen]) v.dispose();
  }
}

/** The default replica factory of the tests. */
export default async function convNetReplica(args: { seed: number }): Promise<ConvNet> {
  return new ConvNet(args.seed);
}

/** A replica whose forward throws on rows holding `value`. */
export async function fragileReplica(args: { value: number }): Promise<ConvNet> {
  const m = new ConvNet(1);
  m.throwOn = args.value;
  return m;
}

export async function brokenReplica(): Promise<ConvNet> {
  throw new Error('cannot build this replica');
}

/** A replica with one variable fewer than ConvNet. */
class SmallerNet extends ConvNet {
  override weights() {
    return new Map([['conv.weight', this.k]]);
  }
}

export async function mismatchedReplica(): Promise<ConvNet> {
  return new SmallerNet(1);
}

/** Deterministic, non-trivial inputs: n 4x4x1 images and labels in [0, 3). */
export function batchOf(n: number, seed = 3): Batch {
  const rng = new SeededRng(seed);
  return {
    x: tf.tensor4d(
      Array.from({ length: n * 16 }, () => rng.normal()),
      [n, 4, 4, 1],
    ),
    y: tf.tensor1d(
      Array.from({ length: n }, () => rng.int(3)),
      'int32',
    ),
  };
}

/** Class c lights up a 2x2 quadrant c of a 4x4 image; shuffled per epoch from a seed. */
export class QuadrantSource implements BatchSource {
  private order: number[] = [];
  constructor(
    readonly n: number,
    readonly batch: number,
    readonly seed = 100,
  ) {
    this.setEpoch(0);
  }
  get length() {
    return Math.ceil(this.n / this.batch);
  }
  setEpoch(e: number) {
    this.order = new SeededRng(this.seed + e).shuffle([...Array(this.n).keys()]);
  }
  *[Symbol.iterator](): Iterator<Batch> {
    const noise = new SeededRng(this.seed * 7);
    for (let s = 0; s < this.n; s += this.batch) {
      const idx = this.order.slice(s, s + this.batch);
      const xs = new Float32Array(idx.length * 16);
      idx.forEach((k, r) => {
        const c = k % 3;
        const [oy, ox] = [
          [0, 0],
          [0, 2],
          [2, 0],
        ][c];
        for (let i = 0; i < 16; i++) xs[r * 16 + i] = 0.1 * noise.normal();
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ])
          xs[r * 16 + (oy + dy) * 4 + ox + dx] += 1;
      });
      yield {
        x: tf.tensor4d(xs, [idx.length, 4, 4, 1]),
        y: tf.tensor1d(
          idx.map((k) => k % 3),
          'int32',
        ),
      };
    }
  }
}

/** max |a - b| / max |b| per gradient, the worst over every gradient of `b`. */
export function maxRelErr(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  let worst = 0;
  for (const [k, t] of b) {
    const x = a.get(k)!.dataSync();
    const y = t.dataSync();
    const scale = Math.max(...Array.from(y, Math.abs), 1e-12);
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
  }
  return worst;
}

/** The trainer profile the parallel tests train the toy net with. */
export const toyTrainerConf = (epochs: number): TrainerConf => ({
  title: 'toy',
  epochs,
  batch_chunks: 2,
  grad_clip: 5,
  label_smoothing: 0.1,
  optimizer: { type: 'sgd', lr: 0.2, momentum: 0.9, decay: 3e-4 },
  lr_schedule: { type: 'cosine', min_lr: 0.01 },
  validation: { freq: 1 },
});

/** Their data: four-quadrant images, train/val/test. */
export const toyData = () => ({
  train: new QuadrantSource(48, 12),
  val: new QuadrantSource(12, 6, 200),
  test: new QuadrantSource(12, 12, 300),
});
