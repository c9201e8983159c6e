// The DARTS search step over two threads: a supernet of mixed ops replicated in a worker thread
// (the worker registers this plug-in to get `mixed_op`), against the same step in one thread.
import '@tensorflow/tfjs-backend-cpu';
import 'reflect-metadata';
import { registerAllGradients, SeededRng } from '@tsnas/backend';
import type { ConfModelDesc, ModelDesc } from '@tsnas/descs';
import type { Model } from '@tsnas/ops';
import { MODEL_DESC_BUILDER, modelReplicaRecipe, pluginModulesFor } from '@tsnas/runner';
import { type Batch, type BatchSource, InProcessGradientEngine, modelLoss } from '@tsnas/trainer';
import { DataParallelEngine } from '@tsnas/trainer/parallel';
import * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BilevelArchTrainer, type BilevelTrainerConf } from './bilevel.js';
import { dartsContainer, tinySupernet, tinySupernetConf } from './__tests__/supernet.js';

const conf = (chunks: number): BilevelTrainerConf => ({
  title: 'search',
  epochs: 1,
  batch_chunks: chunks,
  grad_clip: 5,
  optimizer: { type: 'sgd', lr: 0.025, momentum: 0.9, decay: 3e-4 },
  alpha_optimizer: { type: 'adam', lr: 3e-3, decay: 1e-3, betas: [0.5, 0.999] },
  unrolled: false,
  validation: null,
});

function batch(n: number, seed: number): Batch {
  const rng = new SeededRng(seed);
  return {
    x: tf.tensor4d(
      Array.from({ length: n * 8 * 8 * 3 }, () => rng.normal()),
      [n, 8, 8, 3],
    ),
    y: tf.tensor1d(
      Array.from({ length: n }, () => rng.int(4)),
      'int32',
    ),
  };
}

class Batches implements BatchSource {
  constructor(
    readonly length: number,
    private readonly seed: number,
  ) {}
  setEpoch(): void {}
  *[Symbol.iterator](): Iterator<Batch> {
    for (let i = 0; i < this.length; i++) yield batch(4, this.seed + i);
  }
}

let run: DependencyContainer;
let desc: ModelDesc;

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
  run = dartsContainer();
  desc = run.resolve<{ build(c: ConfModelDesc): ModelDesc }>(MODEL_DESC_BUILDER).build(tinySupernetConf());
});

const supernet = (): Model => tinySupernet({}, 3, desc, run);

const engine = () =>
  new DataParallelEngine({
    workers: 2,
    recipe: {
      ...modelReplicaRecipe({
        desc,
        affine: false,
        droppath: false,
        plugins: pluginModulesFor(desc, run, [process.cwd()]),
      }),
      loss: {},
      backend: 'cpu',
    },
  });

function maxRelErr(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let worst = 0;
  for (const [k, t] of b) {
    const x = a.get(k)!.dataSync();
    const y = t.dataSync();
    const scale = Math.max(...Array.from(y, Math.abs), 1e-12);
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
  }
  return worst;
}

describe('BilevelArchTrainer over two threads', () => {
  const owned: { dispose(): void }[] = [];
  afterAll(() => {
    for (const o of owned) o.dispose();
  });

  it('loads this plug-in in the worker for mixed_op', () => {
    const urls = pluginModulesFor(desc, run, [process.cwd()]);
    expect(urls).toHaveLength(1);
    expect(urls[0]).toMatch(/algos\/darts\/src\/index\.ts$/);
  });

  it('first order: the alpha gradient equals the one-thread gradient (whole chunks per thread)', () => {
    const model = supernet();
    const one = new BilevelArchTrainer(conf(2), model);
    const two = new BilevelArchTrainer(conf(2), model, { gradients: engine() });
    owned.push(one, two, model);
    const [t, v] = [batch(8, 1), batch(8, 2)];
    const want = one.archGradients(t, v);
    const got = two.archGradients(t, v);
    expect(want.size).toBe(model.archParams().size);
    expect(maxRelErr(got, want)).toBeLessThanOrEqual(1e-5);
    tf.dispose([...want.values(), ...got.values(), t.x, t.y, v.x, v.y]);
  });

  it('BatchNorm running means after a step are those of the whole batch, not of one thread', () => {
    const b = batch(8, 5);
    const step = (
      model: Model,
      gradients: InProcessGradientEngine | DataParallelEngine,
      chunks: number,
      rows: Batch = b,
    ) => {
      const r = gradients.compute(model, {
        x: rows.x,
        y: rows.y,
        vars: model.weights(),
        chunks,
        loss: (x, y) => modelLoss(model, x, y, true, {}),
        zerosForMissing: false,
      });
      tf.dispose([...r.grads.values()]);
      return new Map([...model.buffers()].map(([k, v]) => [k, v.clone()]));
    };
    // One thread over the whole batch, against two threads on 4 rows each. The stem's BN sees the
    // same inputs either way and its running mean is linear in the batch mean, so the row-weighted
    // average of the halves' updates is exact there (deeper BNs see inputs normalised per half).
    const [oneModel, twoModel] = [supernet(), supernet()];
    const whole = step(oneModel, new InProcessGradientEngine(), 1);
    const parallel = engine();
    const halves = step(twoModel, parallel, 2);
    const pick = (m: Map<string, tf.Tensor>, re: RegExp) => new Map([...m].filter(([k]) => re.test(k)));
    const stemMean = /stem.*running_mean$/;
    expect(pick(whole, stemMean).size).toBe(1);
    expect(maxRelErr(pick(halves, stemMean), pick(whole, stemMean))).toBeLessThanOrEqual(1e-5);
    // Everywhere else the statistics come from both halves: close to the whole batch's.
    expect(maxRelErr(pick(halves, /running_mean$/), pick(whole, /running_mean$/))).toBeLessThan(0.15);
    // The main thread's half alone (what it kept before) is far off at the stem.
    const half = { x: tf.slice(b.x, [0, 0, 0, 0], [4, -1, -1, -1]), y: tf.slice(b.y, [0], [4]) } as Batch;
    const halfModel = supernet();
    const mainOnly = step(halfModel, new InProcessGradientEngine(), 1, half);
    expect(maxRelErr(pick(mainOnly, stemMean), pick(whole, stemMean))).toBeGreaterThan(0.05);
    tf.dispose([...mainOnly.values(), half.x, half.y]);
    halfModel.dispose();
    tf.dispose([...whole.values(), ...halves.values(), b.x, b.y]);
    owned.push(parallel, oneModel, twoModel);
  });

  it('a short search ends with the one-thread alphas and weights', async () => {
    const results: Float32Array[][] = [];
    for (const threads of [1, 2]) {
      const model = supernet();
      const t = new BilevelArchTrainer(conf(2), model, threads === 2 ? { gradients: engine() } : {});
      await t.fit({ train: new Batches(2, 10), val: new Batches(2, 20), test: null });
      results.push([
        ...[...model.archParams().values()].map((v) => v.dataSync() as Float32Array),
        ...[...model.weights().values()].map((v) => v.dataSync() as Float32Array),
      ]);
      t.dispose();
      model.dispose();
    }
    const [a, b] = results;
    let worst = 0;
    a.forEach((arr, i) => {
      arr.forEach((x, j) => {
        worst = Math.max(worst, Math.abs(x - b[i][j]));
      });
    });
    expect(worst).toBeLessThan(1e-4);
    // The alphas did move (Adam, lr 3e-3): the comparison is not between two untouched models.
    const start = supernet();
    const a0 = [...start.archParams().values()][0].dataSync();
    expect(Math.max(...Array.from(a0, (x, j) => Math.abs(x - a[0][j])))).toBeGreaterThan(1e-3);
    start.dispose();
  });
});
