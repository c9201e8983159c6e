import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { PROFILE_FILES } from './__tests__/archaiProfile.js';
import { removeWrittenFiles, writeFiles } from './__tests__/tmpFiles.js';
import { ConfigError } from './errors.js';
import { loadConfigSync } from './load.js';
import { tsnasProfileSchema } from './schema.js';
import { validateConfig } from './validate.js';

afterAll(removeWrittenFiles);

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('tsnasProfileSchema on an Archai-style profile', () => {
  it('accepts the darts profile and resolves its copies to the Archai values', () => {
    const dir = writeFiles(PROFILE_FILES);
    const config = loadConfigSync('configs/algos/darts.yaml', { cwd: dir, schema: tsnasProfileSchema });
    const profile = validateConfig(config.tree, tsnasProfileSchema, config.sources);
    expect(profile.common.seed).toBe(2);
    expect(profile.nas.search.model_desc).toMatchObject({
      n_cells: 8,
      n_reductions: 2,
      aux_weight: 0,
      model_stems: { ops: ['stem_conv3x3', 'stem_conv3x3'], init_node_ch: 16, stem_multiplier: 3 },
      cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
    });
    expect(profile.nas.eval.model_desc.aux_weight).toBe(0.4);
    expect(profile.nas.search.trainer.aux_weight).toBe(0);
    expect(profile.nas.search.trainer.optimizer).toMatchObject({
      type: 'sgd',
      lr: 0.025,
      decay: 3e-4,
      momentum: 0.9,
    });
    expect(profile.nas.search.trainer.optimizer.decay_bn).toBeNaN();
    expect(profile.nas.search.trainer.lr_schedule).toEqual({ type: 'cosine', min_lr: 0.001, warmup: null });
    expect(profile.nas.search.loader).toMatchObject({
      train_batch: 64,
      val_ratio: 0.5,
      cutout: 0,
      load_test: false,
    });
    expect(profile.nas.search.loader.dataset).toMatchObject({ name: 'fashion_mnist', channels: 1 });
    expect(profile.nas.eval.checkpoint).toEqual({ filename: '$expdir/checkpoint.json', freq: 10 });
    expect(profile.nas.eval.resume).toBe(true);
    expect(profile.common.apex).toEqual({ enabled: false, seed: 2 });
  });

  it('keeps unknown extra keys for plug-ins', () => {
    const dir = writeFiles({ ...PROFILE_FILES, 'user.yaml': 'nas: {search: {divnas: {sigma: 168}}}\n' });
    const config = loadConfigSync(['configs/algos/darts.yaml', 'user.yaml'], { cwd: dir });
    const profile = validateConfig(config.tree, tsnasProfileSchema, config.sources);
    expect(profile.nas.search.divnas).toEqual({ sigma: 168 });
  });

  it('names file, line and key path for a bad value in an included file', () => {
    const dir = writeFiles({
      ...PROFILE_FILES,
      'configs/datasets/fashion_mnist.yaml': PROFILE_FILES['configs/datasets/fashion_mnist.yaml'].replace(
        'n_classes: 10',
        "n_classes: 'ten'",
      ),
    });
    const error = errorOf(() =>
      loadConfigSync('configs/algos/darts.yaml', { cwd: dir, schema: tsnasProfileSchema }),
    );
    const file = join(dir, 'configs/datasets/fashion_mnist.yaml');
    expect(error.file).toBe(file);
    expect(error.line).toBe(3);
    expect(error.keyPath).toBe('dataset.n_classes');
    expect(error.message).toContain(
      `${file}:3:3: dataset.n_classes: Invalid input: expected number, received string (got "ten")`,
    );
    // The loaders copy /dataset, so the same value is reported there too, pointing at where it was written.
    const copied = error.issues.find((issue) => issue.keyPath === 'nas.eval.loader.dataset.n_classes');
    expect(copied?.location).toMatchObject({ file, line: 3, copiedFrom: { keyPath: 'dataset.n_classes' } });
    expect(error.message).toContain(`nas.eval.loader.dataset.n_classes`);
    expect(error.exitCode).toBe(2);
  });

  it('reports an override that breaks the schema at the override', () => {
    const dir = writeFiles(PROFILE_FILES);
    const error = errorOf(() =>
      loadConfigSync('configs/algos/darts.yaml', {
        cwd: dir,
        overrides: ['nas.search.loader.val_ratio=1.5'],
        schema: tsnasProfileSchema,
      }),
    );
    expect(error.keyPath).toBe('nas.search.loader.val_ratio');
    expect(error.message).toContain(
      "override 'nas.search.loader.val_ratio=1.5': nas.search.loader.val_ratio: Too big",
    );
  });

  it('reports a missing required key at its parent mapping', () => {
    const dir = writeFiles({
      ...PROFILE_FILES,
      'configs/base.yaml': PROFILE_FILES['configs/base.yaml'].replace('      batch_chunks: 1\n', ''),
    });
    const error = errorOf(() =>
      loadConfigSync('configs/algos/darts.yaml', { cwd: dir, schema: tsnasProfileSchema }),
    );
    const keys = error.issues.map((issue) => issue.keyPath);
    expect(keys).toEqual(['nas.search.trainer.batch_chunks', 'nas.eval.trainer.batch_chunks']);
    const evalIssue = error.issues[1]!;
    expect(evalIssue.message).toBe('missing required key (expected number)');
    // nas.eval.trainer is written at line 44 of base.yaml.
    expect(evalIssue.location).toMatchObject({ file: join(dir, 'configs/base.yaml'), line: 44 });
  });
});

describe('validateConfig with any schema', () => {
  it('lists every problem and unknown keys of strict objects', () => {
    const dir = writeFiles({ 'p.yaml': 'plugin:\n  rate: -1\n  mode: fast\n  extra: 1\n' });
    const config = loadConfigSync(join(dir, 'p.yaml'));
    const schema = z.object({
      plugin: z.strictObject({ rate: z.number().min(0), mode: z.enum(['slow', 'exact']) }),
    });
    const error = errorOf(() => validateConfig(config.tree, schema, config.sources));
    expect(error.issues.map((issue) => [issue.keyPath, issue.location?.line])).toEqual([
      ['plugin.rate', 2],
      ['plugin.mode', 3],
      ['plugin.extra', 4],
    ]);
    expect(error.message.split('\n')[0]).toBe('invalid config (3 problems):');
    expect(error.issues[2]!.message).toBe('unknown key');
  });

  it('returns the parsed value', () => {
    expect(validateConfig({ a: 1 }, z.object({ a: z.number() }))).toEqual({ a: 1 });
  });
});

describe('missing top-level sections', () => {
  it('are reported at the top of the first file given', () => {
    const dir = writeFiles({
      'base.yaml': 'common: {seed: 1, checkpoint: null, resume: false}\n',
      'algo.yaml': '__include__: base.yaml\n',
    });
    const config = loadConfigSync(join(dir, 'algo.yaml'));
    const error = errorOf(() => validateConfig(config.tree, tsnasProfileSchema, config.sources));
    expect(error.issues.map((issue) => issue.keyPath)).toEqual(['dataset', 'nas']);
    expect(error.message).toContain(
      `${join(dir, 'algo.yaml')}:1:1: dataset: missing required key (expected object)`,
    );
  });
});
