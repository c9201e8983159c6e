// `pnpm bench:search` through its built script (dist/search.js) and the built `nas`, on the tiny
// synthetic profile of the CLI's tests: one seed of darts and random, a few seconds each.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, '..', 'dist', 'search.js');
// 2 search epochs of 2 batches (256 synthetic images, half for validation, 2 x 16 kept of each).
const TINY = join(here, '..', '..', 'packages', 'cli', 'test', 'tiny.yaml');

const benchSearch = (args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 240_000 });

describe('bench:search', () => {
  it('runs darts and random per seed and prints one JSON document: runs, means, the alphas entropy', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bench-search-')), 'out');
    const r = benchSearch(['--algos', 'darts,random', '--seeds', '1', '--out', out, '--', '--config', TINY]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('bench:search darts seed 1: search epoch 2/2');
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ out, run_args: ['--config', TINY], eval_budget: { same_eval_config: true } });
    expect(doc.runs.map((x: any) => [x.algo, x.seed, x.exp_dir])).toEqual([
      ['darts', 1, join(out, 'darts-seed1')],
      ['random', 1, join(out, 'random-seed1')],
    ]);
    for (const run of doc.runs) {
      expect(existsSync(join(run.exp_dir, 'summary.json'))).toBe(true);
      expect(run.test_top1).toBeGreaterThanOrEqual(0);
      expect(run.test_top1).toBeLessThanOrEqual(1);
      for (const k of ['search_s', 'eval_s', 'wall_s']) expect(run[k], k).toBeGreaterThan(0);
      expect(run.wall_s).toBeGreaterThanOrEqual(run.search_s);
      expect(run.genotype).toMatch(/^Genotype\(normal=\[/);
    }
    const [darts, random] = doc.runs;
    // One alpha step per search batch: 2 epochs x 2 batches; none for random search.
    expect(darts.arch_steps).toBe(4);
    expect(random.arch_steps).toBe(0);
    expect(darts.alpha_entropy).toBeGreaterThan(0);
    expect(darts.alpha_entropy).toBeLessThanOrEqual(Math.log(8) + 1e-6);
    expect(random.alpha_entropy).toBeNull();
    expect(doc.algos.darts).toEqual({
      runs: 1,
      test_top1_mean: Number(darts.test_top1.toFixed(4)),
      test_top1_std: null,
      alpha_entropy_mean: darts.alpha_entropy,
      alpha_entropy_max: Number(Math.log(8).toFixed(6)),
    });
    expect(doc.algos.random).toMatchObject({ runs: 1, alpha_entropy_mean: null, alpha_entropy_max: null });
  }, 240_000);

  it('a bad option exits 2 naming it, before anything runs', () => {
    const r = benchSearch(['--seeds', '1,two']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--seeds: expected integers like 1,2,3, got '1,two'");
    expect(r.stdout).toBe('');
  });
});
