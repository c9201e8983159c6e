import '@tensorflow/tfjs-backend-cpu';
import { registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../trainable.js';
import { ConvNet, batchOf, maxRelErr } from './__tests__/fixtures.js';
import { evalSums, modelLoss } from '../gradients.js';
import { DataParallelEngine, ReplicaWorkerError } from './data-parallel.js';
import { type GradientResult, InProcessGradientEngine } from '../gradient-engine.js';
import type { ReplicaRecipe } from './protocol.js';

const FIXTURES = new URL('./__tests__/fixtures.ts', import.meta.url).href;

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

const recipe = (factory?: string, args: unknown = { seed: 9 }): ReplicaRecipe => ({
  module: FIXTURES,
  ...(factory ? { factory } : {}),
  args,
  loss: { label_smoothing: 0.1 },
  backend: 'cpu',
});

function gradsOf(
  engine: InProcessGradientEngine | DataParallelEngine,
  model: ConvNet,
  b: Batch,
  chunks: number,
  which: 'weights' | 'arch' = 'weights',
): GradientResult {
  return engine.compute(model, {
    x: b.x,
    y: b.y,
    vars: which === 'weights' ? model.weights() : model.archParams(),
    chunks,
    loss: (x, y) => modelLoss(model, x, y, true, { label_smoothing: 0.1 }),
    zerosForMissing: which === 'arch',
  });
}

/** max |a - b| / max |b| over every gradient, and the same names in both. */
function relErr(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  return maxRelErr(a, b);
}

function disposeGrads(...rs: GradientResult[]) {
  for (const r of rs) for (const g of r.grads.values()) g.dispose();
}

describe('DataParallelEngine', () => {
  let model: ConvNet;
  let engine: DataParallelEngine;
  const local = new InProcessGradientEngine();
  beforeAll(() => {
    model = new ConvNet(1);
    engine = new DataParallelEngine({ workers: 2, recipe: recipe() });
  });
  afterAll(() => {
    engine.dispose();
    model.dispose();
  });

  it.each([1, 2, 3, 4])('gives the in-process gradients of a BN-free model (batch_chunks %i)', (chunks) => {
    const b = batchOf(10);
    const want = gradsOf(local, model, b, chunks);
    const got = gradsOf(engine, model, b, chunks);
    expect(relErr(got.grads, want.grads)).toBeLessThanOrEqual(1e-5);
    expect(got.loss).toBeCloseTo(want.loss, 6);
    expect(got.top1).toBeCloseTo(want.top1, 10);
    expect(got.top5).toBeCloseTo(want.top5, 10);
    disposeGrads(want, got);
    tf.dispose([b.x, b.y]);
  });

  it('follows the model: weights and alphas changed in the main thread reach the replica', () => {
    const b = batchOf(6, 11);
    for (let step = 0; step < 3; step++) {
      const want = gradsOf(local, model, b, 2, 'arch');
      const got = gradsOf(engine, model, b, 2, 'arch');
      expect([...got.grads.keys()]).toEqual(['alpha']);
      expect(relErr(got.grads, want.grads)).toBeLessThanOrEqual(1e-5);
      // A plain SGD step on both kinds of variable, as the trainers do between computations.
      const w = gradsOf(local, model, b, 1);
      tf.tidy(() => {
        for (const [k, v] of model.weights()) v.assign(tf.sub(v, tf.mul(w.grads.get(k)!, 0.5)));
        model.alpha.assign(tf.sub(model.alpha, tf.mul(want.grads.get('alpha')!, 0.5)));
      });
      disposeGrads(want, got, w);
    }
    tf.dispose([b.x, b.y]);
  });

  it('leaves no tensors behind, in the main thread or the worker', () => {
    const b = batchOf(8, 5);
    disposeGrads(gradsOf(engine, model, b, 2));
    const before = tf.memory().numTensors;
    const inWorker = engine.workerTensorCounts();
    for (let i = 0; i < 3; i++) disposeGrads(gradsOf(engine, model, b, 2));
    expect(tf.memory().numTensors).toBe(before);
    expect(inWorker[0]).toBeGreaterThan(0);
    expect(engine.workerTensorCounts()).toEqual(inWorker);
    tf.dispose([b.x, b.y]);
  });

  it("keeps the threads' buffers averaged by rows (running statistics of the whole batch)", () => {
    const b = batchOf(6, 5);
    const before = model.seen.dataSync()[0];
    disposeGrads(gradsOf(engine, model, b, 3));
    // Chunks of 2: rows 0-1 ran here (seen + 2), rows 2-5 in the replica (seen + 4), both from the
    // same start: the main thread keeps (2 (s + 2) + 4 (s + 4)) / 6 = s + 10/3.
    expect(model.seen.dataSync()[0] - before).toBeCloseTo(10 / 3, 4);
    tf.dispose([b.x, b.y]);
  });

  it('uses every thread even with batch_chunks 1 and gives a batch of one row to one thread', () => {
    const one = batchOf(1, 2);
    const want = gradsOf(local, model, one, 1);
    const got = gradsOf(engine, model, one, 1);
    expect(relErr(got.grads, want.grads)).toBeLessThanOrEqual(1e-5);
    disposeGrads(want, got);
    tf.dispose([one.x, one.y]);
  });
});

describe('DataParallelEngine.evaluate (validation and test batches over the threads)', () => {
  it('gives the one-thread loss and hits, follows the main model, and leaves no tensors', () => {
    const model = new ConvNet(1);
    const engine = new DataParallelEngine({ workers: 2, recipe: recipe() });
    for (const [rows, seed] of [
      [7, 4],
      [1, 6],
    ]) {
      const b = batchOf(rows, seed);
      for (let round = 0; round < 2; round++) {
        const want = evalSums(model, b.x, b.y, 0.1);
        const before = tf.memory().numTensors;
        const got = engine.evaluate(model, b.x, b.y, 0.1);
        expect(tf.memory().numTensors).toBe(before);
        expect(got.lossSum).toBeCloseTo(want.lossSum, 4);
        expect(got.top1Sum).toBeCloseTo(want.top1Sum, 6);
        expect(got.top5Sum).toBeCloseTo(want.top5Sum, 6);
        // A weight changed here must reach the replica before its rows are evaluated.
        tf.tidy(() => model.w.assign(tf.mul(model.w, -1.5)));
      }
      tf.dispose([b.x, b.y]);
    }
    engine.dispose();
    model.dispose();
  });

  it('evaluates the last rows in the worker and surfaces its failure', async () => {
    const model = new ConvNet(1);
    const engine = new DataParallelEngine({ workers: 2, recipe: recipe('fragileReplica', { value: 999 }) });
    const b = batchOf(4);
    const x = tf.tidy(() =>
      tf.concat([tf.slice(b.x, [0, 0, 0, 0], [3, -1, -1, -1]), tf.fill([1, 4, 4, 1], 999)]),
    ) as tf.Tensor4D;
    expect(() => engine.evaluate(model, x, b.y, 0)).toThrow(/replica 1 \(worker thread\): replica exploded/);
    engine.dispose();
    expect(await engine.terminated()).toEqual([1]);
    tf.dispose([x, b.x, b.y]);
    model.dispose();
  });
});

describe('DataParallelEngine failures', () => {
  it("surfaces an error thrown in the worker's forward pass with the worker's message", async () => {
    const model = new ConvNet(1);
    const engine = new DataParallelEngine({ workers: 2, recipe: recipe('fragileReplica', { value: 999 }) });
    const b = batchOf(4);
    // Row 3 is the replica's (rows 2-3); the main thread's model has no trigger.
    const x = tf.tidy(() =>
      tf.concat([tf.slice(b.x, [0, 0, 0, 0], [3, -1, -1, -1]), tf.fill([1, 4, 4, 1], 999)]),
    );
    const tensorsBefore = tf.memory().numTensors;
    const run = () => gradsOf(engine, model, { x: x as tf.Tensor4D, y: b.y }, 1);
    expect(run).toThrow(ReplicaWorkerError);
    expect(run).toThrow(/replica 1 \(worker thread\): replica exploded on a row holding 999/);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    engine.dispose();
    expect(await engine.terminated()).toEqual([1]);
    tf.dispose([x, b.x, b.y]);
    model.dispose();
  });

  it('surfaces a replica that cannot be built, and a module that cannot be loaded', () => {
    const model = new ConvNet(1);
    const b = batchOf(4);
    const broken = new DataParallelEngine({ workers: 2, recipe: recipe('brokenReplica') });
    expect(() => gradsOf(broken, model, b, 1)).toThrow(
      /replica 1 \(worker thread\): cannot build this replica/,
    );
    broken.dispose();
    const missing = new DataParallelEngine({
      workers: 2,
      recipe: { ...recipe(), module: new URL('./__tests__/nowhere.ts', import.meta.url).href },
    });
    expect(() => gradsOf(missing, model, b, 1)).toThrow(/nowhere\.ts/);
    missing.dispose();
    const noFactory = new DataParallelEngine({ workers: 2, recipe: recipe('noSuchExport') });
    expect(() => gradsOf(noFactory, model, b, 1)).toThrow(/does not export a replica factory 'noSuchExport'/);
    noFactory.dispose();
    tf.dispose([b.x, b.y]);
    model.dispose();
  });

  it("refuses a replica whose variables differ from the trainer's model", () => {
    const model = new ConvNet(1);
    const b = batchOf(4);
    const engine = new DataParallelEngine({ workers: 2, recipe: recipe('mismatchedReplica') });
    expect(() => gradsOf(engine, model, b, 1)).toThrow(
      /does not match the trainer's model: missing w:linear\.weight; missing w:linear\.bias/,
    );
    // Once failed, it stays failed with the same message.
    expect(() => gradsOf(engine, model, b, 1)).toThrow(/does not match/);
    engine.dispose();
    tf.dispose([b.x, b.y]);
    model.dispose();
  });
});
