import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { events, json, nas, TINY } from './helpers.js';

// No post-train (the search only draws a cell); an eval that learns enough to tell seeds apart.
const args = (expDir: string, extra: string[]) => [
  'random',
  '--config',
  TINY,
  '--exp-dir',
  expDir,
  '--seed',
  '1',
  '--backend',
  'cpu',
  '--json',
  'nas.search.post_train.trainer.epochs=0',
  'nas.eval.trainer.optimizer.lr=0.1',
  'nas.eval.trainer.epochs=2',
  'nas.eval.loader.dataset.max_batches=4',
  ...extra,
];

describe('nas random --seeds', () => {
  it('trains the eval network once per seed; summary: each run, mean and std; a rerun trains nothing', () => {
    const base = mkdtempSync(join(tmpdir(), 'nas-seeds-'));
    const plain = join(base, 'plain');
    expect(nas(args(plain, [])).code).toBe(0);
    const exp = join(base, 'seeds');
    const r = nas(args(exp, ['--seeds', '1,3']));
    expect(r.code, r.stderr).toBe(0);
    const ev = json(join(exp, 'summary.json')).eval;
    expect(ev.seeds.map((s: any) => [s.seed, s.dir])).toEqual([
      [1, join('eval', 'seed-1')],
      [3, join('eval', 'seed-3')],
    ]);
    // Seed 1 as a trial is the plain eval with --seed 1, to the last digit.
    const one = json(join(plain, 'summary.json')).eval;
    expect(ev.seeds[0]).toMatchObject({
      test_top1: one.test_top1,
      test_loss: one.test_loss,
      best_train_top1: one.best_train_top1,
    });
    // Another seed, another training.
    expect(ev.seeds[1].test_loss).not.toBe(ev.seeds[0].test_loss);
    const [a, b] = ev.seeds.map((s: any) => s.test_top1);
    expect(ev.test_top1_mean).toBeCloseTo((a + b) / 2, 12);
    expect(ev.test_top1).toBe(ev.test_top1_mean);
    // Sample standard deviation of two values: |a - b| / sqrt(2).
    expect(ev.test_top1_std).toBeCloseTo(Math.abs(a - b) / Math.SQRT2, 12);
    expect(ev.params).toBe(one.params);
    for (const s of [1, 3]) expect(existsSync(join(exp, 'eval', `seed-${s}`, 'result.json'))).toBe(true);
    expect(existsSync(join(exp, 'eval', 'full_model_desc.yaml'))).toBe(true);

    const again = nas(args(exp, ['--seeds', '1,3']));
    expect(again.code, again.stderr).toBe(0);
    expect(events(again.stdout).filter((e) => e.kind === 'fit_start')).toHaveLength(0);
    expect(json(join(exp, 'summary.json')).eval.seeds).toEqual(ev.seeds);
  });

  it('a bad seed list: one message, exit code 2', () => {
    for (const bad of ['1,x', '1,,2', '-1', '2,2']) {
      const r = nas(args(join(tmpdir(), 'never-made'), ['--seeds', bad]));
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(`--seeds`);
      expect(r.stderr).toContain(`'${bad}'`);
    }
  });
});
