// End to end through the built `nas` binary (packages/cli/dist/bin.js), as a user runs it. Build it
// first: `npx turbo run build --filter=@tsnas/cli... --output-logs=errors-only` (done here if missing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelDesc } from '@tsnas/descs';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..', '..');
const BIN = join(ROOT, 'packages', 'cli', 'dist', 'bin.js');
const TINY = join(here, 'tiny.yaml');

function nas(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: here, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'nas-diversity-'));

beforeAll(() => {
  const listed = existsSync(BIN) && nas(['algos', '--json']).stdout.includes('@tsnas/algo-diversity');
  if (!listed) {
    const b = spawnSync(
      'npx',
      ['turbo', 'run', 'build', '--filter=@tsnas/cli...', '--output-logs=errors-only'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 600_000,
      },
    );
    if (b.status !== 0) throw new Error(`building the CLI failed:\n${b.stdout}\n${b.stderr}`);
  }
}, 600_000);

describe('nas diversity (built binary)', () => {
  it('searches with mi_ranked, evaluates, and writes summary.json and the kernel heat maps', async () => {
    const dir = tmp();
    const r = nas(['diversity', '--config', TINY, '--exp-dir', dir, '--seed', '3', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(summary.algo).toBe('diversity');
    expect(summary.algo_package).toMatch(/^@tsnas\/algo-diversity@/);
    expect(summary.search.genotype).toMatch(/^Genotype\(normal=\[/);
    expect(summary.eval.test_top1).toBeGreaterThanOrEqual(0);
    expect(summary.eval.test_top1).toBeLessThanOrEqual(1);

    // 3 cells x 2 nodes: one heat map and one JSON file each.
    const kernels = join(dir, 'search', 'kernels');
    const files = readdirSync(kernels).sort();
    expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(6);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(6);
    expect(readFileSync(join(kernels, 'cell_0_node_0.svg'), 'utf8')).toContain('e1:sep_conv_3x3');

    // The final desc's first cell holds exactly the ops the finalizer chose from its kernels.
    const desc = await loadModelDesc(join(dir, 'search', 'final_model_desc.yaml'));
    const nodes = desc.cellDescs()[0].nodes();
    for (const node of [0, 1]) {
      const k = JSON.parse(readFileSync(join(kernels, `cell_0_node_${node}.json`), 'utf8'));
      expect(k.samples).toBe(32);
      expect(k.labels).toHaveLength(7 * (node + 2));
      expect(k.pool).toHaveLength(Math.floor((7 * (node + 2)) / 2));
      expect(k.chosen).toHaveLength(2);
      for (const c of k.chosen) expect(k.pool).toContain(c);
      const edges = nodes[node].edges.map((e) => `e${e.inputIds[0]}:${e.opDesc.name}`);
      expect(edges).toEqual(k.chosen);
    }
  });

  it("'noalpha' with the default finalizer exits with code 2 naming both keys", () => {
    const dir = tmp();
    const r = nas([
      'diversity',
      '--config',
      TINY,
      '--exp-dir',
      dir,
      'nas.search.divnas.archtrainer=noalpha',
      'nas.search.finalizer=default',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nas.search.divnas.archtrainer');
    expect(r.stderr).toContain('nas.search.finalizer');
    expect(existsSync(join(dir, 'search', 'final_model_desc.yaml'))).toBe(false);
  });

  it("'noalpha' with the mi finalizer searches without alphas", () => {
    const dir = tmp();
    const r = nas([
      'diversity',
      '--config',
      TINY,
      '--exp-dir',
      dir,
      '--search-only',
      '--json',
      'nas.search.divnas.archtrainer=noalpha',
      'nas.search.finalizer=mi',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const k = JSON.parse(readFileSync(join(dir, 'search', 'kernels', 'cell_0_node_1.json'), 'utf8'));
    expect(k.finalizer).toBe('mi');
    // mi draws from every op of the node.
    expect(k.pool).toHaveLength(21);
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    expect(summary.search.genotype).toMatch(/^Genotype\(/);
  });
});
