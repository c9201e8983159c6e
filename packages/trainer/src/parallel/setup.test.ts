import '@tensorflow/tfjs-backend-cpu';
import { registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { InProcessGradientEngine } from '../gradient-engine.js';
import { modelLoss } from '../gradients.js';
import { batchOf, ConvNet, maxRelErr } from './__tests__/fixtures.js';
import { DataParallelEngine } from './data-parallel.js';
import { createGradientEngine, ParallelSetupError, replicaBackend, resolveWorkers } from './setup.js';

const FIXTURES = new URL('./__tests__/fixtures.ts', import.meta.url).href;

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

describe('createGradientEngine and common.workers', () => {
  it("reads common.workers: integers, 'auto' and 0; anything else names the key", () => {
    expect(resolveWorkers(undefined)).toBe(1);
    expect(resolveWorkers(3)).toBe(3);
    expect(resolveWorkers('auto')).toBeGreaterThanOrEqual(1);
    expect(resolveWorkers('auto')).toBeLessThanOrEqual(2);
    expect(resolveWorkers(0)).toBe(resolveWorkers('auto'));
    for (const bad of [-1, 1.5, 'two', true]) {
      expect(() => resolveWorkers(bad)).toThrow(ParallelSetupError);
    }
    expect(() => resolveWorkers('two')).toThrow(
      `common.workers: expected a positive integer or 'auto' (0 means auto), got "two"`,
    );
    let error: unknown = null;
    try {
      resolveWorkers(-2, 'x.workers');
    } catch (e) {
      error = e;
    }
    expect((error as ParallelSetupError).exitCode).toBe(2);
    expect((error as Error).message).toMatch(/^x\.workers: /);
  });

  it('asks for the replica only when it starts threads, and trains with the one it is given', () => {
    let asked = 0;
    const replica = () => {
      asked++;
      return { module: FIXTURES, args: { seed: 9 } };
    };
    const one = createGradientEngine({ workers: 1, replica, loss: {} });
    expect(one.engine).toBeInstanceOf(InProcessGradientEngine);
    expect(one.note).toBe('gradients: 1 thread');
    expect(asked).toBe(0);

    const two = createGradientEngine({ workers: 2, replica, loss: { label_smoothing: 0.1 }, seed: 3 });
    expect(asked).toBe(1);
    expect(two.engine).toBeInstanceOf(DataParallelEngine);
    expect(two.engine.replicas).toBe(2);
    expect(two.note).toMatch(/^gradients: 2 threads/);
    // The worker's replica (the fixture's factory) and its loss (label smoothing 0.1) are used:
    // gradients equal one thread's on the same chunks.
    const model = new ConvNet(1);
    const b = batchOf(6);
    const task = {
      x: b.x,
      y: b.y,
      vars: model.weights(),
      chunks: 2,
      loss: (x: tf.Tensor4D, y: tf.Tensor1D) => modelLoss(model, x, y, true, { label_smoothing: 0.1 }),
    };
    const want = new InProcessGradientEngine().compute(model, task);
    const got = two.engine.compute(model, task);
    expect(maxRelErr(got.grads, want.grads)).toBeLessThanOrEqual(1e-5);
    expect(got.loss).toBeCloseTo(want.loss, 5);
    for (const r of [want, got]) for (const g of r.grads.values()) g.dispose();
    two.engine.dispose();
    model.dispose();
    tf.dispose([b.x, b.y]);
  });

  it("gives workers the main thread's backend", () => {
    expect(replicaBackend()).toBe('cpu');
  });
});
