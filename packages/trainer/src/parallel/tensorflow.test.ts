// Training on the tensorflow backend (when built): the data-parallel engine's replicas run their
// own TensorFlow contexts and must give the same gradients as one thread and as the cpu reference;
// a step must not leak tensors; a checkpoint written on tensorflow must resume on another backend.
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAllGradients, seedEverything } from '@tsnas/backend';
import { tensorflowAvailability } from '@tsnas/backend/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../checkpoint.js';
import { Trainer } from '../trainer.js';
import { batchOf, ConvNet, maxRelErr, toyData, toyTrainerConf } from './__tests__/fixtures.js';
import { modelLoss } from '../gradients.js';
import { DataParallelEngine } from './data-parallel.js';
import { type GradientResult, InProcessGradientEngine } from '../gradient-engine.js';

const FIXTURES = new URL('./__tests__/fixtures.ts', import.meta.url).href;
const tensorflow = await tensorflowAvailability();
const skip = tensorflow.available ? '' : ` (skipped: ${tensorflow.reason})`;

function gradsOf(
  engine: InProcessGradientEngine | DataParallelEngine,
  model: ConvNet,
  chunks: number,
): GradientResult {
  const b = batchOf(10, 7);
  try {
    return engine.compute(model, {
      x: b.x,
      y: b.y,
      vars: model.weights(),
      chunks,
      loss: (x, y) => modelLoss(model, x, y, true, { label_smoothing: 0.1 }),
      zerosForMissing: false,
    });
  } finally {
    tf.dispose([b.x, b.y]);
  }
}

const dispose = (...rs: GradientResult[]) => {
  for (const r of rs) for (const g of r.grads.values()) g.dispose();
};

/** Trains the toy net on `backend` for `epochs` (resuming from `checkpoint` when it holds one). */
async function fit(backend: string, epochs: number, checkpoint?: Checkpoint, stopAfter?: number) {
  await tf.setBackend(backend);
  seedEverything(5);
  const model = new ConvNet(1);
  const t = new Trainer(toyTrainerConf(epochs), model, {
    ...(checkpoint ? { checkpoint } : {}),
    onEvent: (e) => {
      if (e.kind === 'checkpoint' && e.epoch === stopAfter) throw new Error('killed');
    },
  });
  let error: Error | null = null;
  try {
    await t.fit(toyData());
  } catch (e) {
    error = e as Error;
  }
  const weights = Array.from(model.w.dataSync());
  t.dispose();
  model.dispose();
  return { weights, error };
}

describe.skipIf(!tensorflow.available)(`training on the tensorflow backend${skip}`, () => {
  beforeAll(async () => {
    await registerAllGradients();
    await tf.setBackend('tensorflow');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('two replicas on tensorflow give the in-process gradients and the cpu reference', async () => {
    await tf.setBackend('tensorflow');
    const model = new ConvNet(1);
    const engine = new DataParallelEngine({
      workers: 2,
      recipe: { module: FIXTURES, args: { seed: 9 }, loss: { label_smoothing: 0.1 }, backend: 'tensorflow' },
    });
    try {
      const local = gradsOf(new InProcessGradientEngine(), model, 2);
      const parallel = gradsOf(engine, model, 2);
      expect(maxRelErr(parallel.grads, local.grads)).toBeLessThanOrEqual(1e-5);
      expect(parallel.loss).toBeCloseTo(local.loss, 5);
      await tf.setBackend('cpu');
      const reference = gradsOf(new InProcessGradientEngine(), model, 2);
      expect(maxRelErr(local.grads, reference.grads)).toBeLessThanOrEqual(1e-4);
      dispose(local, parallel, reference);
    } finally {
      await tf.setBackend('tensorflow');
      engine.dispose();
      model.dispose();
    }
  });

  it('a training step leaves no tensors behind', async () => {
    await tf.setBackend('tensorflow');
    const model = new ConvNet(1);
    const local = new InProcessGradientEngine();
    dispose(gradsOf(local, model, 2));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) dispose(gradsOf(local, model, 2));
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('a checkpoint written on tensorflow resumes on cpu and ends where tensorflow does', async () => {
    const straight = await fit('tensorflow', 3);
    const ckpt = new Checkpoint(join(mkdtempSync(join(tmpdir(), 'tf-ckpt-')), 'ckpt.safetensors'), 1);
    const crashed = await fit('tensorflow', 3, ckpt, 1);
    expect(crashed.error?.message).toBe('killed');
    const resumed = await fit('cpu', 3, ckpt);
    expect(resumed.error).toBeNull();
    const scale = Math.max(...straight.weights.map(Math.abs));
    const diff = Math.max(...resumed.weights.map((w, i) => Math.abs(w - straight.weights[i]!)));
    expect(diff / scale).toBeLessThanOrEqual(1e-4);
    await tf.setBackend('tensorflow');
  });
});
