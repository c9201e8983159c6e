// Damaged checkpoints: every file either loads as a training state or is a CheckpointError naming
// it; a damaged one is found before training starts and is never written over.
import '@tensorflow/tfjs-backend-cpu';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, type NamedArray, registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  expectSurvived,
  FUZZ_TIMEOUT_MS,
  fuzzParams,
  FuzzTally,
  ownErrorNaming,
} from '../../../fuzz.shared.js';
import { Checkpoint, CheckpointError } from './checkpoint.js';
import type { Batch, BatchSource } from './trainable.js';
import { Trainer, type TrainerConf } from './trainer.js';
import { LinearModel } from './__tests__/linear-model.js';

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

const dir = mkdtempSync(join(tmpdir(), 'ckpt-fuzz-'));

/** The tensors and state a 4 -> 3 linear model's trainer writes, as plain arrays. */
function goodArrays(shapeW = [4, 3]): Map<string, NamedArray> {
  const n = shapeW.reduce((a, b) => a * b, 1);
  return new Map<string, NamedArray>([
    ['model.w', { shape: shapeW, data: Float32Array.from({ length: n }, (_, i) => i / 7) }],
    ['model.b', { shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) }],
    ['optimizer.momentum.w', { shape: shapeW, data: new Float32Array(n) }],
  ]);
}

const goodState = { title: 'fuzz', epoch: 1, optimizer: {}, metrics: { epochs: [], test: null, seconds: 1 } };

function goodFile(state: unknown = goodState, arrays = goodArrays()): Buffer {
  return encodeSafetensors(arrays, { tsnas_state: JSON.stringify(state) });
}

const damaged: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(goodFile()),
  fc.double({ min: 0, max: 1, noNaN: true }).map((at) => {
    const f = goodFile();
    return f.subarray(0, Math.floor(at * f.length));
  }),
  fc
    .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 })
    .map((flips) => {
      const f = goodFile();
      for (const [pos, bit] of flips) f[pos % f.length] ^= 1 << bit;
      return f;
    }),
  // Well-formed files (valid checksum) holding a state that is not a training state.
  fc
    .oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ epoch: fc.jsonValue({ maxDepth: 1 }) }))
    .map((state) => goodFile(state)),
  fc.string({ maxLength: 30 }).map((text) => encodeSafetensors(goodArrays(), { tsnas_state: text })),
  fc.constant(encodeSafetensors(goodArrays())),
  fc.uint8Array({ maxLength: 64 }),
);

// Only the file's own bytes matter here; tensors from a load are freed at once.
async function loadOnce(ckpt: Checkpoint): Promise<void> {
  const data = await ckpt.load();
  if (data === null) throw new Error('an existing file loaded as no checkpoint');
  if (typeof data.state.epoch !== 'number') throw new Error('loaded a state without an epoch');
  for (const t of data.tensors.values()) t.dispose();
}

class OneBatch implements BatchSource {
  readonly length = 1;
  setEpoch() {}
  *[Symbol.iterator](): Iterator<Batch> {
    yield { x: tf.ones([2, 2, 2, 1]) as tf.Tensor4D, y: tf.tensor1d([0, 1], 'int32') };
  }
}

const conf: TrainerConf = { title: 'fuzz', epochs: 3, optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9 } };

describe('checkpoints under fuzzing', () => {
  it(
    'loads a training state or throws CheckpointError naming the file, and never changes it',
    async () => {
      const file = join(dir, 'fuzz.safetensors');
      const ckpt = new Checkpoint(file, 1);
      const tally = new FuzzTally('checkpoint', ownErrorNaming(CheckpointError, file));
      await fc.assert(
        fc.asyncProperty(damaged, async (bytes) => {
          writeFileSync(file, bytes);
          await tally.run(ckpt, loadOnce);
          if (!readFileSync(file).equals(Buffer.from(bytes))) throw new Error('loading changed the file');
        }),
        fuzzParams(1701, 300),
      );
      expectSurvived(tally);
    },
    FUZZ_TIMEOUT_MS,
  );

  it.each([
    ['truncated', (f: Buffer) => f.subarray(0, f.length - 9), /byte range|tensors cover/],
    [
      'bit-flipped',
      (f: Buffer) => {
        f[f.length - 5] ^= 0x10;
        return f;
      },
      /checksum mismatch/,
    ],
    [
      'of another network',
      () => goodFile(goodState, goodArrays([3, 4])),
      /'optimizer.momentum.w' has shape \[3,4\]/,
    ],
  ])('a %s checkpoint stops the trainer before it trains, and stays as it was', async (_, damage, why) => {
    const sub = join(dir, `fit-${Math.random()}`);
    mkdirSync(sub);
    const file = join(sub, 'checkpoint.safetensors');
    const bytes = damage(goodFile());
    writeFileSync(file, bytes);
    const events: string[] = [];
    const trainer = new Trainer(conf, new LinearModel(), {
      checkpoint: new Checkpoint(file, 1),
      onEvent: (e) => events.push(e.kind),
    });
    const err = await trainer.fit({ train: new OneBatch(), val: null, test: null }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`damaged checkpoint ${file}`);
    expect(err.message).toMatch(why);
    expect(events).toEqual([]);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('a save that fails leaves the previous checkpoint whole', async () => {
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    const file = join(sub, 'checkpoint.safetensors');
    const ckpt = new Checkpoint(file, 1);
    const w = tf.ones([2]);
    await ckpt.save({ state: { epoch: 0 }, tensors: new Map([['w', w]]) });
    const before = readFileSync(file);
    // The temporary file cannot be created (a folder is in the way): the save fails, the old file stays.
    mkdirSync(`${file}.tmp-${process.pid}`);
    await expect(ckpt.save({ state: { epoch: 1 }, tensors: new Map([['w', w]]) })).rejects.toThrow();
    expect(readFileSync(file).equals(before)).toBe(true);
    expect((await ckpt.load())!.state.epoch).toBe(0);
    w.dispose();
  });
});
