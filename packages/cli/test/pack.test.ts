// Every package is installable alone: pack @tsnas/descs, @tsnas/ops and what they need at run time
// (@tsnas/backend) with `pnpm pack` (which rewrites workspace:^ to versions), install the tarballs
// into a fresh project outside the workspace with `pnpm install --prefer-offline` (third-party
// packages come from the pnpm store the workspace install filled; only registry metadata the
// store's cache lacks is fetched, which a fresh machine's store does: `--offline` failed there
// with ERR_PNPM_NO_OFFLINE_META), and build the DARTS paper network there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const PACKAGES = join(here, '..', '..');
const PACKED = ['descs', 'backend', 'ops'];
// Third-party packages the script imports itself (ops' README does the same: a DI container).
const THIRD_PARTY = { tsyringe: '^4.10.0', 'reflect-metadata': '^0.2.2' };

/** pnpm, under the repo's install lock when flock is there (helpers share one pnpm store). */
function pnpm(args: string[], cwd: string) {
  const lock = existsSync('/usr/bin/flock') ? ['/usr/bin/flock', join(tmpdir(), 'pnpm.lock')] : [];
  const [cmd, ...rest] = [...lock, 'pnpm', ...args];
  const r = spawnSync(cmd, rest, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`pnpm ${args.join(' ')} in ${cwd} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function tarList(file: string): string[] {
  const r = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' });
  return r.stdout.trim().split('\n');
}

function tarFile(file: string, path: string): string {
  return spawnSync('tar', ['-xOzf', file, path], { encoding: 'utf8' }).stdout;
}

const SCRIPT = `
import 'reflect-metadata';
import { initBackend } from '@tsnas/backend';
import { DARTS_V2, genotypeToTemplate, ModelDescBuilder } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { container } from 'tsyringe';

const backend = await initBackend({ backend: 'cpu' });
const conf = {
  dataset: { name: 'cifar10', channels: 3, n_classes: 10 },
  n_reductions: 2, n_cells: 20, max_final_edges: 2, model_post_op: 'pool_adaptive_avg2d',
  params: {}, aux_weight: 0.4, aux_tower_stride: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 36 },
  cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
};
const desc = new ModelDescBuilder().build(conf, genotypeToTemplate(DARTS_V2, conf));
const model = new Model(desc, { container: container.createChildContainer(), affine: true, droppath: true });
console.log(JSON.stringify({
  backend: backend.name,
  params: model.paramCount(),
  paramsWithoutAux: model.paramCount({ includeAux: false }),
}));
`;

describe('installing packages alone from their tarballs', () => {
  const tarballs: Record<string, string> = {};

  beforeAll(() => {
    const out = mkdtempSync(join(tmpdir(), 'nas-pack-'));
    for (const p of PACKED) {
      pnpm(['pack', '--pack-destination', out], join(PACKAGES, p));
      const file = readdirSync(out).find((f) => f.startsWith(`tsnas-${p}-`));
      if (!file) throw new Error(`pnpm pack wrote no tarball for @tsnas/${p} in ${out}`);
      tarballs[`@tsnas/${p}`] = join(out, file);
    }
  }, 60_000);

  it('packs the built code with versions instead of workspace: ranges, no sources or tests', () => {
    for (const [name, file] of Object.entries(tarballs)) {
      const files = tarList(file);
      expect(files, name).toContain('package/dist/index.js');
      expect(files, name).toContain('package/dist/index.d.ts');
      expect(
        files.filter((f) => f.startsWith('package/src/') || f.includes('.test.')),
        name,
      ).toEqual([]);
      const pkg = JSON.parse(tarFile(file, 'package/package.json'));
      expect(pkg.name).toBe(name);
      expect(JSON.stringify(pkg), `${name}: workspace: rewritten`).not.toContain('workspace:');
    }
  });

  it('every tarball carries the README its package.json lists', () => {
    const missing = Object.entries(tarballs)
      .filter(([, file]) => !tarList(file).includes('package/README.md'))
      .map(([name]) => name);
    expect(missing).toEqual([]);
  });

  it('installs into a fresh project from the tarballs and builds DARTS_V2 there (3,825,768 params)', {
    timeout: 120_000,
  }, () => {
    // A project outside the workspace; overrides make ops' dependencies on backend and descs use
    // the tarballs too (there is no registry to take them from).
    const project = mkdtempSync(join(tmpdir(), 'nas-installed-'));
    const fileSpecs = Object.fromEntries(Object.entries(tarballs).map(([n, f]) => [n, `file:${f}`]));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'uses-tsnas-ops',
        private: true,
        type: 'module',
        dependencies: { ...fileSpecs, ...THIRD_PARTY },
        pnpm: { overrides: fileSpecs },
      }),
    );
    pnpm(['install', '--prefer-offline'], project);
    for (const name of Object.keys(tarballs)) {
      // Installed copies, not links back into the workspace.
      expect(realpathSync(join(project, 'node_modules', name))).not.toContain(PACKAGES);
    }

    writeFileSync(join(project, 'build-darts-v2.mjs'), SCRIPT);
    const r = spawnSync(process.execPath, ['build-darts-v2.mjs'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(info).toEqual({ backend: 'cpu', params: 3_825_768, paramsWithoutAux: 3_349_342 });
  });
});
