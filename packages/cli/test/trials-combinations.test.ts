// nas.search.combinations (Archai's SearchCombinations, §8.4): the search once per macro point
// (reductions x cells x nodes), each post-trained as a trial, the best by validation top1 kept;
// search/combinations.{tsv,json} list every point; a rerun skips the finished points.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, events, here, json, nas, TINY } from './helpers.js';

function profile(dir: string, text: string): string {
  const file = join(dir, 'combinations.yaml');
  writeFileSync(file, text);
  return file;
}

const args = (expDir: string, config: string, extra: string[] = []) => [
  'random',
  '--config',
  TINY,
  '--config',
  config,
  '--exp-dir',
  expDir,
  '--seed',
  '5',
  '--backend',
  'cpu',
  '--search-only',
  '--json',
  'nas.search.post_train.trainer.epochs=1',
  'nas.search.post_train.trainer.optimizer.lr=0.1',
  'nas.search.loader.dataset.max_batches=3',
  ...extra,
];

describe('nas.search.combinations', () => {
  it('sweeps cells x nodes, lists every point, keeps the best; a killed sweep resumes per point', async () => {
    const base = mkdtempSync(join(tmpdir(), 'nas-comb-'));
    // tiny.yaml's search network: 1 reduction, 3 cells, 2 nodes.
    const config = profile(base, 'nas:\n  search:\n    combinations: { max_cells: 4, max_nodes: 3 }\n');
    const exp = join(base, 'sweep');
    // Killed while the third point runs, then rerun.
    const killed = await new Promise<boolean>((resolve, reject) => {
      const child: ChildProcess = spawn(process.execPath, [BIN, ...args(exp, config)], { cwd: here });
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('{') && /macro point 3\/4/.test(JSON.parse(line).detail ?? ''))
            child.kill('SIGKILL');
        }
      });
      child.on('error', reject);
      child.on('exit', (_c, signal) => resolve(signal === 'SIGKILL'));
    });
    expect(killed).toBe(true);
    const before = json(join(exp, 'search', 'combinations.json')).rows;
    expect(before.map((r: any) => [r.reductions, r.cells, r.nodes])).toEqual([
      [1, 3, 2],
      [1, 3, 3],
    ]);

    const r = nas(args(exp, config));
    expect(r.code, r.stderr).toBe(0);
    const starts = events(r.stdout)
      .filter((e) => e.kind === 'phase_start' && /macro point/.test(e.detail))
      .map((e) => e.detail);
    expect(starts).toEqual([
      'macro point 3/4: 1 reduction(s), 4 cells, 2 nodes',
      'macro point 4/4: 1 reduction(s), 4 cells, 3 nodes',
    ]);
    const table = json(join(exp, 'search', 'combinations.json'));
    expect(table.rows.slice(0, 2)).toEqual(before);
    expect(table.rows.map((x: any) => [x.reductions, x.cells, x.nodes])).toEqual([
      [1, 3, 2],
      [1, 3, 3],
      [1, 4, 2],
      [1, 4, 3],
    ]);
    for (const row of table.rows) {
      // The point's nodes are applied (Archai's base builder ignored them): 2 edges per node.
      const normal = /normal=\[(.*?)\], normal_concat/.exec(row.genotype)![1];
      expect(normal.match(/\('/g)).toHaveLength(2 * row.nodes);
      expect(row.val_top1).toBeGreaterThanOrEqual(0);
      expect(row.train_top1).toBeGreaterThanOrEqual(0);
      expect(row.seconds).toBeGreaterThan(0);
      // Each point post-trained as a trial in its own folder.
      expect(json(join(exp, row.dir, 'search', 'post_train', 'result.json')).bestValTop1).toBe(row.val_top1);
    }
    // More cells or nodes, more parameters.
    const params = table.rows.map((x: any) => x.params);
    expect(params[1]).toBeGreaterThan(params[0]);
    expect(params[2]).toBeGreaterThan(params[0]);
    expect(params[3]).toBeGreaterThan(params[2]);
    // The best by validation top1 (later points win ties, as Archai's >=).
    const vals: number[] = table.rows.map((x: any) => x.val_top1);
    expect(table.best).toBe(vals.lastIndexOf(Math.max(...vals)));
    const best = table.rows[table.best];
    expect(readFileSync(join(exp, 'search', 'final_model_desc.yaml'), 'utf8')).toBe(
      readFileSync(join(exp, best.dir, 'search', 'final_model_desc.yaml'), 'utf8'),
    );
    const s = json(join(exp, 'summary.json'));
    expect(s.search).toMatchObject({ genotype: best.genotype, best_val_top1: best.val_top1 });
    const tsv = readFileSync(join(exp, 'search', 'combinations.tsv'), 'utf8')
      .trim()
      .split('\n');
    expect(tsv[0]).toBe('reductions\tcells\tnodes\tparams\ttrain_top1\tval_top1\tseconds\tgenotype');
    expect(tsv.slice(1).map((l) => l.split('\t').slice(0, 4).map(Number))).toEqual(
      table.rows.map((x: any) => [x.reductions, x.cells, x.nodes, x.params]),
    );
    expect(existsSync(join(exp, 'cells', 'normal.svg'))).toBe(true);
  });

  it('bad bounds and a missing post-train: one message, exit code 2', () => {
    const base = mkdtempSync(join(tmpdir(), 'nas-comb-'));
    const below = profile(base, 'nas:\n  search:\n    combinations: { max_cells: 2 }\n');
    let r = nas(args(join(base, 'a'), below));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nas.search.combinations.max_cells: expected an integer >= 3');
    expect(existsSync(join(base, 'a'))).toBe(false);
    const ok = profile(base, 'nas:\n  search:\n    combinations: { max_nodes: 3 }\n');
    r = nas(args(join(base, 'b'), ok, ['nas.search.post_train.trainer.epochs=0']));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nas.search.post_train.trainer.epochs must be > 0');
  });
});
