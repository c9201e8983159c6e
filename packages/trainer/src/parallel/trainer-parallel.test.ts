import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerAllGradients, seedEverything } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from '../checkpoint.js';
import type { Metrics } from '../metrics.js';
import { Trainer } from '../trainer.js';
import { ConvNet, toyData, toyTrainerConf } from './__tests__/fixtures.js';
import { DataParallelEngine } from './data-parallel.js';
import { createGradientEngine } from './setup.js';

const FIXTURES = new URL('./__tests__/fixtures.ts', import.meta.url).href;

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

const engine = () =>
  new DataParallelEngine({
    workers: 2,
    recipe: { module: FIXTURES, args: { seed: 1 }, loss: { label_smoothing: 0.1 }, backend: 'cpu' },
  });

/** workers 1: `common.workers: 1` as the runner sets it up; 'plain': a Trainer with no engine given. */
async function fit(
  workers: 'plain' | 1 | 2,
  epochs = 3,
  opts: { checkpoint?: Checkpoint; stopAfter?: number } = {},
) {
  seedEverything(5);
  const model = new ConvNet(1);
  const gradients =
    workers === 2
      ? engine()
      : workers === 1
        ? createGradientEngine({
            workers: 1,
            replica: () => {
              throw new Error('one thread builds no replica');
            },
            loss: {},
          }).engine
        : undefined;
  const t = new Trainer(toyTrainerConf(epochs), model, {
    ...(gradients ? { gradients } : {}),
    ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
    onEvent: (e) => {
      if (e.kind === 'checkpoint' && e.epoch === opts.stopAfter) throw new Error('killed');
    },
  });
  let metrics: Metrics | null = null;
  let error: Error | null = null;
  try {
    metrics = await t.fit(toyData());
  } catch (e) {
    error = e as Error;
  }
  const weights = [...model.weights().values()].flatMap((v) => Array.from(v.dataSync()));
  const buffers = [...model.buffers().values()].flatMap((v) => Array.from(v.dataSync()));
  t.dispose();
  model.dispose();
  return { metrics, weights, buffers, error };
}

describe('common.workers: 1', () => {
  it('gives exactly the numbers of a plain trainer (weights, buffers, losses)', async () => {
    const [plain, one] = [await fit('plain'), await fit(1)];
    expect(one.weights).toEqual(plain.weights);
    expect(one.buffers).toEqual(plain.buffers);
    expect(one.buffers[0]).toBeGreaterThan(0);
    expect(one.metrics!.epochs.map((e) => e.train.loss)).toEqual(
      plain.metrics!.epochs.map((e) => e.train.loss),
    );
  });
});

describe('Trainer with a DataParallelEngine (2 threads)', () => {
  it('learns, repeats itself exactly, and matches one thread on a model without batch statistics', async () => {
    const before = tf.memory().numTensors;
    const a = await fit(2);
    expect(tf.memory().numTensors).toBe(before);
    const m = a.metrics!;
    expect(m.epochs[2].train.loss).toBeLessThan(m.epochs[0].train.loss * 0.7);
    expect(m.test!.top1).toBe(1);

    const b = await fit(2);
    expect(b.metrics!.epochs.map((e) => e.train.loss)).toEqual(m.epochs.map((e) => e.train.loss));
    expect(b.weights).toEqual(a.weights);

    const one = await fit(1);
    one.metrics!.epochs.forEach((e, i) => expect(m.epochs[i].train.loss).toBeCloseTo(e.train.loss, 4));
    one.weights.forEach((w, i) => expect(a.weights[i]).toBeCloseTo(w, 4));
  });

  it('resumes from a checkpoint exactly where an uninterrupted run ends', async () => {
    const straight = await fit(2, 3);
    const ckpt = new Checkpoint(join(mkdtempSync(join(tmpdir(), 'dp-')), 'ckpt.safetensors'), 1);
    const crashed = await fit(2, 3, { checkpoint: ckpt, stopAfter: 0 });
    expect(crashed.error?.message).toBe('killed');
    const resumed = await fit(2, 3, { checkpoint: ckpt });
    expect(resumed.weights).toEqual(straight.weights);
    const { loss, top1, top5 } = straight.metrics!.test!;
    expect(resumed.metrics!.test).toMatchObject({ loss, top1, top5 });
  });
});

describe('worker threads never outlive their process', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  const tsxLoader = pathToFileURL(
    join(dirname(pkg), JSON.parse(readFileSync(pkg, 'utf8')).exports['.']),
  ).href;
  const runScript = () =>
    spawnSync(
      process.execPath,
      ['--import', tsxLoader, '--conditions=@tsnas/source', join(here, '__tests__', 'exit-script.ts')],
      { encoding: 'utf8', timeout: 60_000 },
    );

  it('exits on its own when the engine is never disposed', () => {
    const r = runScript();
    expect(r.error).toBeUndefined(); // a spawnSync timeout would set it
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n')[0])).toMatchObject({ grads: 3 });
  });
});
