import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRng, seedEverything } from '@tsnas/backend';
import { registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint } from './checkpoint.js';
import type { Batch, BatchSource } from './trainable.js';
import { Trainer, type TrainerConf } from './trainer.js';
import { LinearModel } from './__tests__/linear-model.js';

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

/** Class c lights up pixel c; shuffled per epoch from a seed, like the real loaders. */
class ToySource implements BatchSource {
  private order: number[] = [];
  readonly labels: number[];
  constructor(
    readonly n: number,
    readonly batch: number,
  ) {
    this.labels = Array.from({ length: n }, (_, i) => i % 3);
    this.setEpoch(0);
  }
  get length() {
    return Math.ceil(this.n / this.batch);
  }
  setEpoch(e: number) {
    this.order = new SeededRng(100 + e).shuffle([...Array(this.n).keys()]);
  }
  *[Symbol.iterator](): Iterator<Batch> {
    for (let s = 0; s < this.n; s += this.batch) {
      const idx = this.order.slice(s, s + this.batch);
      const xs = new Float32Array(idx.length * 4);
      idx.forEach((k, r) => {
        xs[r * 4 + this.labels[k]] = 1;
        xs[r * 4 + 3] = 0.5;
      });
      yield {
        x: tf.tensor4d(xs, [idx.length, 2, 2, 1]),
        y: tf.tensor1d(
          idx.map((k) => this.labels[k]),
          'int32',
        ),
      };
    }
  }
}

const conf = (epochs: number, extra: Partial<TrainerConf> = {}): TrainerConf => ({
  title: 'toy',
  epochs,
  grad_clip: 5,
  optimizer: { type: 'sgd', lr: 0.5, momentum: 0.9, decay: 3e-4 },
  lr_schedule: { type: 'cosine', min_lr: 0.01 },
  validation: { freq: 1 },
  ...extra,
});

describe('Trainer', () => {
  it('learns, writes metrics.jsonl, tests at the end and leaks no tensors', async () => {
    seedEverything(1);
    const dir = mkdtempSync(join(tmpdir(), 'tr-'));
    const model = new LinearModel();
    const t = new Trainer(conf(4), model, { metricsFile: join(dir, 'metrics.jsonl') });
    const data = { train: new ToySource(30, 8), val: new ToySource(9, 4), test: new ToySource(9, 9) };
    await t.fit({ ...data, test: null }); // warm-up fit creates optimiser buffers
    const before = tf.memory().numTensors;
    const t2 = new Trainer(conf(3), model, { metricsFile: join(dir, 'metrics2.jsonl') });
    const m = await t2.fit(data);
    t2.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(m.epochs).toHaveLength(3);
    expect(m.test!.top1).toBe(1);
    expect(m.epochs[2].train.loss).toBeLessThan(m.epochs[0].train.loss);
    const lines = readFileSync(join(dir, 'metrics2.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['epoch', 'epoch', 'epoch', 'test']);
    expect(lines[1].lr).toBeLessThan(lines[0].lr);
    t.dispose();
    model.dispose();
  });

  it('batch_chunks=2 gives the same update as one full batch', async () => {
    const results: number[][] = [];
    for (const chunks of [1, 2]) {
      seedEverything(1);
      const model = new LinearModel();
      const t = new Trainer(conf(1, { batch_chunks: chunks, validation: null }), model);
      await t.fit({ train: new ToySource(16, 8), val: null, test: null });
      results.push(Array.from(model.w.dataSync()));
      t.dispose();
      model.dispose();
    }
    results[1].forEach((v, i) => expect(v).toBeCloseTo(results[0][i], 5));
  });

  it('resuming from a checkpoint ends exactly where an uninterrupted run ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tr-'));
    const data = () => ({ train: new ToySource(30, 8), val: new ToySource(9, 4), test: null });
    seedEverything(3);
    const full = new LinearModel();
    await new Trainer(conf(4), full).fit(data());

    seedEverything(3);
    const first = new LinearModel();
    const ckpt = new Checkpoint(join(dir, 'ckpt.safetensors'), 1);
    // "Crash" right after the checkpoint of epoch 1 is written.
    const partial = new Trainer(conf(4), first, {
      checkpoint: ckpt,
      onEvent: (e) => {
        if (e.kind === 'checkpoint' && e.epoch === 1) throw new Error('killed');
      },
    });
    await expect(partial.fit(data())).rejects.toThrow('killed');
    const state = JSON.parse(JSON.stringify((await ckpt.load())!.state));
    expect(state.epoch).toBe(1);

    seedEverything(99); // a restarted process may hold any seed: the checkpoint restores it
    const resumed = new LinearModel();
    const events: string[] = [];
    const t = new Trainer(conf(4), resumed, { checkpoint: ckpt, onEvent: (e) => events.push(e.kind) });
    const m = await t.fit(data());
    expect(m.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3]);
    expect(events.filter((k) => k === 'epoch_end')).toHaveLength(2);
    const a = Array.from(full.w.dataSync());
    Array.from(resumed.w.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(a[i], 6));
  });

  it('logs every logger_freq-th step to metrics.jsonl, once per step across a crash and resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tr-'));
    const file = join(dir, 'metrics.jsonl');
    const data = () => ({ train: new ToySource(30, 8), val: new ToySource(9, 4), test: null });
    const ckpt = new Checkpoint(join(dir, 'ckpt.safetensors'), 1);
    seedEverything(3);
    const first = new LinearModel();
    // 4 steps per epoch, logger_freq 2: steps 2 and 4 are logged. Crash in epoch 2 after step 2
    // was logged: that line belongs to an epoch the resumed run trains again.
    const partial = new Trainer(conf(4, { logger_freq: 2 }), first, {
      checkpoint: ckpt,
      metricsFile: file,
      onEvent: (e) => {
        if (e.kind === 'step' && e.epoch === 2 && e.step === 3) throw new Error('killed');
      },
    });
    await expect(partial.fit(data())).rejects.toThrow('killed');
    const resumed = new LinearModel();
    await new Trainer(conf(4, { logger_freq: 2 }), resumed, { checkpoint: ckpt, metricsFile: file }).fit(
      data(),
    );
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => `${l.type}:${l.epoch}${l.type === 'step' ? `.${l.step}` : ''}`)).toEqual(
      [0, 1, 2, 3].flatMap((e) => [`step:${e}.2`, `step:${e}.4`, `epoch:${e}`]),
    );
    const step = lines[0];
    expect(step).toMatchObject({ title: 'toy', steps: 4, lr: 0.5 });
    expect(step.loss).toBeGreaterThan(0);
    first.dispose();
    resumed.dispose();
  });

  it('a damaged checkpoint is an error that names its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tr-'));
    const file = join(dir, 'ckpt.safetensors');
    writeFileSync(file, 'garbage that is not a checkpoint');
    const t = new Trainer(conf(1), new LinearModel(), { checkpoint: new Checkpoint(file, 1) });
    await expect(t.fit({ train: new ToySource(8, 8), val: null, test: null })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining(`damaged checkpoint ${file}`),
    });
    expect(readFileSync(file, 'utf8')).toBe('garbage that is not a checkpoint');
  });
});
