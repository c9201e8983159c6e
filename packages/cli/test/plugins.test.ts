// Plug-in discovery through the built `nas` binary: the out-of-tree example plug-in
// (examples/tsnas-algo-example) is compiled with tsc, installed into a temporary project's
// node_modules, and found there by name, by `plugins:` in nas.config.yaml, or reported when two
// packages claim one name.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'bin.js');
const TINY = join(here, 'tiny.yaml');
const EXAMPLE = join(here, '..', '..', '..', 'examples', 'tsnas-algo-example');
const LINK = join(EXAMPLE, 'scripts', 'link-workspace.mjs');
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function nas(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The example, built from a copy of its sources (the repo's folder is left as it is). */
let built: string;

beforeAll(() => {
  built = mkdtempSync(join(tmpdir(), 'nas-example-build-'));
  for (const f of ['package.json', 'tsconfig.json', 'src', 'configs'])
    cpSync(join(EXAMPLE, f), join(built, f), { recursive: true });
  execFileSync(process.execPath, [LINK, built], { stdio: 'pipe' });
  execFileSync(process.execPath, [TSC, '-p', join(built, 'tsconfig.json')], { stdio: 'pipe' });
});

/** A fresh project: its own package.json, the @tsnas packages the plug-in imports, no plug-ins yet. */
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nas-project-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'my-nas-project', private: true, type: 'module' }),
  );
  execFileSync(process.execPath, [LINK, dir], { stdio: 'pipe' });
  return dir;
}

/** Installs the built example into `dir`/node_modules/`as`, optionally renaming the package or the algorithm. */
function install(dir: string, as: string, change: { name?: string; algo?: string } = {}): string {
  const to = join(dir, 'node_modules', ...as.split('/'));
  mkdirSync(to, { recursive: true });
  for (const f of ['package.json', 'dist', 'configs'])
    cpSync(join(built, f), join(to, f), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(to, 'package.json'), 'utf8'));
  pkg.name = change.name ?? as;
  writeFileSync(join(to, 'package.json'), JSON.stringify(pkg, null, 2));
  if (change.algo) {
    const index = join(to, 'dist', 'index.js');
    writeFileSync(index, readFileSync(index, 'utf8').replace("name: 'example'", `name: '${change.algo}'`));
  }
  return to;
}

describe('algorithm plug-ins (built binary)', () => {
  it('finds an installed tsnas-algo-<name> package and runs it end to end', () => {
    const dir = project();
    install(dir, 'tsnas-algo-example');
    const list = nas(['algos', '--json'], dir);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout);
    expect(rows).toContainEqual({
      name: 'example',
      package: 'tsnas-algo-example',
      version: '0.1.0',
      origin: 'installed',
      description: expect.stringContaining('conv_3x3_bn_relu'),
    });
    expect(rows).toContainEqual(expect.objectContaining({ name: 'darts', origin: 'built-in' }));

    const r = nas(['example', '--config', TINY, '--exp-dir', 'run', '--seed', '3', '--json'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    expect(s).toMatchObject({ algo: 'example', algo_package: 'tsnas-algo-example@0.1.0', seed: 3 });
    // The plug-in's builder made the cell, out of the plug-in's own op.
    expect(s.search.genotype).toBe(
      "Genotype(normal=[('conv_3x3_bn_relu', 1), ('skip_connect', 0), ('conv_3x3_bn_relu', 2), ('skip_connect', 1)], normal_concat=[2, 3], " +
        "reduce=[('conv_3x3_bn_relu', 1), ('skip_connect', 0), ('conv_3x3_bn_relu', 2), ('skip_connect', 1)], reduce_concat=[2, 3])",
    );
    expect(s.eval.test_top1).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(dir, 'run', 'eval', 'weights.safetensors'))).toBe(true);
    expect(readFileSync(join(dir, 'run', 'cells', 'normal.svg'), 'utf8')).toContain('conv_3x3_bn_relu');
  });

  it("counts the plug-in op's weights: 9*C*C conv + 2*C BN per edge", () => {
    const dir = project();
    install(dir, 'tsnas-algo-example');
    // One cell, one node, two conv edges on 8 channels: only the edges differ between the two descs.
    const spec = (op: string) =>
      `Genotype(normal=[('${op}', 0), ('${op}', 1)], normal_concat=[2], reduce=[], reduce_concat=[])`;
    const count = (op: string) => {
      const r = nas(
        [
          'desc',
          spec(op),
          '--algo',
          'example',
          '--json',
          '--dataset',
          'synthetic',
          'nas.eval.model_desc.n_cells=1',
          'nas.eval.model_desc.n_reductions=0',
          'nas.eval.model_desc.model_stems.init_node_ch=8',
          'nas.eval.model_desc.cell.n_nodes=1',
          'nas.eval.model_desc.aux_weight=0',
        ],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).params as number;
    };
    expect(count('conv_3x3_bn_relu') - count('skip_connect')).toBe(2 * (9 * 8 * 8 + 2 * 8));
  });

  it('uses the finalizer the plug-in declares, and its register sees the resolved profile', () => {
    const dir = project();
    install(dir, 'tsnas-algo-example');
    // train_supernet (read by the plug-in's register from the profile) makes the search train the
    // chain and finalize it; by_input (declared under finalizers) orders each node's edges.
    const args = [
      'example',
      '--config',
      TINY,
      '--search-only',
      '--json',
      'nas.search.example.train_supernet=true',
    ];
    const r = nas([...args, '--exp-dir', 'run', 'nas.search.finalizer=by_input'], dir);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8'));
    expect(s.search.supernet_params).toBeGreaterThan(0);
    expect(s.search.genotype).toBe(
      "Genotype(normal=[('skip_connect', 0), ('conv_3x3_bn_relu', 1), ('skip_connect', 1), ('conv_3x3_bn_relu', 2)], normal_concat=[2, 3], " +
        "reduce=[('skip_connect', 0), ('conv_3x3_bn_relu', 1), ('skip_connect', 1), ('conv_3x3_bn_relu', 2)], reduce_concat=[2, 3])",
    );
    const unknown = nas([...args, '--exp-dir', 'run2', 'nas.search.finalizer=by_inptu'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      "nas.search.finalizer: unknown finalizer 'by_inptu'. Known: default, random, by_input",
    );
  });

  it('a name claimed by two plug-ins is an error naming both packages', () => {
    const dir = project();
    install(dir, 'tsnas-algo-example');
    install(dir, '@tsnas/algo-example-fork');
    const r = nas(['algos'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nas: error: algorithm 'example' is claimed by two plug-ins: /);
    expect(r.stderr).toContain('tsnas-algo-example@0.1.0');
    expect(r.stderr).toContain('@tsnas/algo-example-fork@0.1.0');
    // Running any algorithm reports it too, before anything is written.
    const run = nas(['example', '--config', TINY, '--exp-dir', 'run'], dir);
    expect(run.code).toBe(2);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });

  it('an installed plug-in cannot take a built-in name', () => {
    const dir = project();
    install(dir, 'tsnas-algo-darts2', { algo: 'darts' });
    const r = nas(['algos'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("algorithm 'darts' is claimed by two plug-ins");
    expect(r.stderr).toContain('@tsnas/algo-darts@');
    expect(r.stderr).toContain('tsnas-algo-darts2@0.1.0');
  });

  it('honours plugins: in nas.config.yaml, by package name and by path', () => {
    const dir = project();
    // Neither is named tsnas-algo-*, so only the config can bring them in.
    install(dir, 'my-chain-cell', { algo: 'chain' });
    const local = join(dir, 'plugins', 'chain2');
    mkdirSync(local, { recursive: true });
    for (const f of ['package.json', 'dist', 'configs'])
      cpSync(join(built, f), join(local, f), { recursive: true });
    const pkg = JSON.parse(readFileSync(join(local, 'package.json'), 'utf8'));
    writeFileSync(
      join(local, 'package.json'),
      JSON.stringify({ ...pkg, name: 'chain2-local', version: '0.2.0' }),
    );
    const index = join(local, 'dist', 'index.js');
    writeFileSync(index, readFileSync(index, 'utf8').replace("name: 'example'", "name: 'chain2'"));

    const before = JSON.parse(nas(['algos', '--json'], dir).stdout);
    expect(before.map((r: any) => r.name)).not.toContain('chain');

    writeFileSync(join(dir, 'nas.config.yaml'), 'plugins:\n  - my-chain-cell\n  - ./plugins/chain2\n');
    const list = nas(['algos', '--json'], dir);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout);
    expect(rows).toContainEqual(
      expect.objectContaining({
        name: 'chain',
        package: 'my-chain-cell',
        version: '0.1.0',
        origin: 'config',
      }),
    );
    expect(rows).toContainEqual(
      expect.objectContaining({
        name: 'chain2',
        package: 'chain2-local',
        version: '0.2.0',
        origin: 'config',
      }),
    );
    const r = nas(['chain', '--config', TINY, '--exp-dir', 'run', '--json', '--search-only'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'run', 'summary.json'), 'utf8')).algo_package).toBe(
      'my-chain-cell@0.1.0',
    );

    writeFileSync(join(dir, 'nas.config.yaml'), 'plugins:\n  - not-installed-anywhere\n');
    const missing = nas(['algos'], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("plugins: 'not-installed-anywhere' is not installed");
  });
});
