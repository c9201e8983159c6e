// `nas random` through the built binary (dist/bin.js), on the tiny synthetic profile.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, here, json, nas, TINY } from './helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'nas-random-'));
const events = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const run = (expDir: string, seed: number, extra: string[] = []) => [
  'random',
  '--config',
  TINY,
  '--exp-dir',
  expDir,
  '--seed',
  String(seed),
  '--json',
  ...extra,
];
const NO_POST_TRAIN = 'nas.search.post_train.trainer.epochs=0';
// Enough data and step size for one epoch to tell the samples apart (at chance they would tie).
const THREE_SAMPLES = [
  'nas.search.random.samples=3',
  'nas.search.post_train.trainer.epochs=1',
  'nas.search.post_train.trainer.optimizer.lr=0.1',
  'nas.search.loader.dataset.max_batches=8',
];

describe('nas random (built binary)', () => {
  it('draws a cell from the seed and evaluates it end to end', () => {
    const exp = join(tmp(), 'run');
    const r = nas(run(exp, 7));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = json(join(exp, 'summary.json'));
    expect(s).toMatchObject({ algo: 'random', algo_package: '@tsnas/algo-random@0.1.0', seed: 7 });
    expect(s.search.genotype).toMatch(/^Genotype\(normal=\[\('\w+', \d\)/);
    expect(s.search.genotype).not.toContain("'none'");
    expect(s.search.supernet_params).toBeNull();
    expect(s.eval.test_top1).toBeGreaterThanOrEqual(0);
    expect(s.eval.params).toBeGreaterThan(0);
    // The seed is announced, the one sample is on disk with its picture, and it is the final cell.
    const info = events(r.stdout).filter((e) => e.kind === 'info' && e.phase === 'search');
    expect(info[0].message).toMatch(/^random search: seed 7, 1 sample\(s\)/);
    const samples = json(join(exp, 'search', 'samples.json'));
    expect(samples).toMatchObject({ seed: 7, samples: 1, best: 0 });
    expect(samples.rows[0].genotype).toBe(s.search.genotype);
    for (const f of ['model_desc.yaml', 'genotype.txt', 'normal.svg', 'reduce.svg']) {
      expect(existsSync(join(exp, 'search', 'samples', '0', f)), f).toBe(true);
    }
    for (const f of ['cells/normal.svg', 'eval/full_model_desc.yaml', 'eval/weights.safetensors']) {
      expect(existsSync(join(exp, f)), f).toBe(true);
    }
  });

  it('the same seed draws the same cell, other seeds other cells', () => {
    const base = tmp();
    const genotype = (name: string, seed: number) => {
      const exp = join(base, name);
      const r = nas(run(exp, seed, ['--search-only', NO_POST_TRAIN]));
      expect(r.code, r.stderr).toBe(0);
      return json(join(exp, 'summary.json')).search.genotype as string;
    };
    const a = genotype('a', 11);
    expect(genotype('b', 11)).toBe(a);
    expect(genotype('c', 12)).not.toBe(a);
  });

  it('samples=3 trains three cells and keeps the best by validation accuracy', () => {
    const base = tmp();
    const one = join(base, 'one');
    expect(nas(run(one, 5, ['--search-only', NO_POST_TRAIN])).code).toBe(0);
    const exp = join(base, 'three');
    const r = nas(run(exp, 5, THREE_SAMPLES));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const table = json(join(exp, 'search', 'samples.json'));
    expect(table).toMatchObject({ seed: 5, samples: 3, post_train_epochs: 1 });
    expect(table.rows).toHaveLength(3);
    const scores: number[] = table.rows.map((row: any) => row.best_val_top1);
    for (const v of scores) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // The sample with the highest score, which is unique here, so the pick means something.
    const top = Math.max(...scores);
    expect(scores.filter((v) => v === top)).toHaveLength(1);
    expect(table.best).toBe(scores.indexOf(top));
    expect(new Set(table.rows.map((row: any) => row.genotype)).size).toBe(3);
    for (let k = 0; k < 3; k++) {
      const dir = join(exp, 'search', 'samples', String(k));
      const trial = json(join(dir, 'train', 'result.json'));
      expect(trial).toMatchObject({ id: `sample-${k}`, bestValTop1: scores[k] });
      expect(readFileSync(join(dir, 'genotype.txt'), 'utf8').trim()).toBe(table.rows[k].genotype);
      expect(existsSync(join(dir, 'normal.svg'))).toBe(true);
      // One post-train epoch per sample (metrics.jsonl also holds the steps logger_freq logs).
      const lines = readFileSync(join(dir, 'train', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n');
      expect(lines.map((l) => JSON.parse(l).type).filter((t) => t === 'epoch')).toHaveLength(1);
    }
    // Sample 0 is the cell a one-sample run draws with the same seed.
    expect(table.rows[0].genotype).toBe(json(join(one, 'summary.json')).search.genotype);
    // The winner goes through the normal eval.
    const s = json(join(exp, 'summary.json'));
    expect(s.search.genotype).toBe(table.rows[table.best].genotype);
    expect(s.search.best_val_top1).toBe(scores[table.best]);
    expect(readFileSync(join(exp, 'search', 'final_model_desc.yaml'), 'utf8')).toBe(
      readFileSync(join(exp, 'search', 'samples', String(table.best), 'model_desc.yaml'), 'utf8'),
    );
    expect(readFileSync(join(exp, 'eval', 'final_model_desc.yaml'), 'utf8')).toBe(
      readFileSync(join(exp, 'search', 'final_model_desc.yaml'), 'utf8'),
    );
    expect(s.eval.params).toBeGreaterThan(0);
  });

  it('a run killed during the samples resumes without retraining the finished ones', async () => {
    const base = tmp();
    const straight = join(base, 'straight');
    expect(nas(run(straight, 4, [...THREE_SAMPLES, '--search-only'])).code).toBe(0);

    const crashed = join(base, 'crashed');
    const killed = await new Promise<boolean>((resolve, reject) => {
      const child: ChildProcess = spawn(
        process.execPath,
        [BIN, ...run(crashed, 4, [...THREE_SAMPLES, '--search-only'])],
        { cwd: here },
      );
      let buf = '';
      let done = false;
      child.stdout!.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const e = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (!done && e.kind === 'fit_start' && e.title === 'post_train sample-1') {
            done = true;
            child.kill('SIGKILL');
          }
        }
      });
      child.on('error', reject);
      child.on('exit', (_c, signal) => resolve(signal === 'SIGKILL'));
    });
    expect(killed).toBe(true);
    const first = join(crashed, 'search', 'samples', '0', 'train', 'result.json');
    expect(existsSync(first)).toBe(true);
    expect(existsSync(join(crashed, 'search', 'samples.json'))).toBe(false);
    const stamp = statSync(first).mtimeMs;

    const r = nas(run(crashed, 4, [...THREE_SAMPLES, '--search-only']));
    expect(r.code, r.stderr).toBe(0);
    const titles = events(r.stdout)
      .filter((e) => e.kind === 'fit_start')
      .map((e) => e.title);
    expect(titles).toEqual(['post_train sample-1', 'post_train sample-2']);
    expect(statSync(first).mtimeMs).toBe(stamp);
    const a = json(join(straight, 'search', 'samples.json'));
    const b = json(join(crashed, 'search', 'samples.json'));
    expect(b.best).toBe(a.best);
    expect(b.rows.map((x: any) => [x.genotype, x.best_val_top1])).toEqual(
      a.rows.map((x: any) => [x.genotype, x.best_val_top1]),
    );
  });

  describe('bad settings: one message, exit code 2', () => {
    it('samples must be a positive integer', () => {
      const r = nas(run(join(tmp(), 'x'), 1, ['nas.search.random.samples=0']));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('nas.search.random.samples: expected an integer >= 1, got 0');
    });

    it('several samples need post-train epochs to be ranked', () => {
      const r = nas(run(join(tmp(), 'x'), 1, ['nas.search.random.samples=2', NO_POST_TRAIN]));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('nas.search.post_train.trainer.epochs > 0');
    });

    it('several samples need a validation split', () => {
      const r = nas(run(join(tmp(), 'x'), 1, [...THREE_SAMPLES, 'nas.search.loader.val_ratio=0']));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('nas.search.loader.val_ratio must be > 0');
    });
  });
});
