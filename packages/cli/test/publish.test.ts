// The single-package promise, tested the way users install: every public workspace package is
// published with `pnpm publish -r` to a local Verdaccio, the example plug-in (examples/, a third
// party's package) is built and published with `npm publish` by its own prepack, then a fresh
// project outside the workspace runs `npm install @tsnas/cli @tsnas/algo-darts tsnas-algo-example`
// and `npx nas ...`. Third-party dependencies come from npmjs through Verdaccio's proxy, so the
// test needs https://registry.npmjs.org (or npm's cache) and says so when it cannot get there.
// Needs built dist/ folders (`pnpm build`; turbo's cli#test depends on build and ^build).
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalRegistry, startLocalRegistry, UPLINK } from './local-registry.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'tsnas-algo-example');
const LINK = join(EXAMPLE, 'scripts', 'link-workspace.mjs');
const TYPESCRIPT = dirname(createRequire(import.meta.url).resolve('typescript/package.json'));

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  files?: string[];
  bin?: string | Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/** The workspace's public packages (packages/*, algos/*) by name. */
function workspacePackages(): Map<string, { dir: string; manifest: Manifest }> {
  const out = new Map<string, { dir: string; manifest: Manifest }>();
  for (const group of ['packages', 'algos']) {
    for (const d of readdirSync(join(ROOT, group))) {
      const dir = join(ROOT, group, d);
      if (!existsSync(join(dir, 'package.json'))) continue;
      const manifest = readManifest(dir);
      if (!manifest.private) out.set(manifest.name, { dir, manifest });
    }
  }
  return out;
}

/**
 * The environment for npm and pnpm: without the npm_config_* variables a parent pnpm or turbo
 * sets (they would override the project's .npmrc), and with the test's own user config, so the
 * user's ~/.npmrc is neither read nor written.
 */
function isolatedEnv(userconfig: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_config_/i.test(k)) env[k] = v;
  return { ...env, npm_config_userconfig: userconfig, NO_COLOR: '1' };
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command without blocking (Verdaccio's output keeps flowing) and collects its output. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const started = Date.now();
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

function mustSucceed(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Every file under `dir` (relative paths), not descending into node_modules. */
function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...listFiles(path, base));
    else out.push(relative(base, path));
  }
  return out;
}

/** Files npm packs whatever `files` says. */
const ALWAYS_PACKED = /^(package\.json|(README|LICEN[CS]E|LICENCE|CHANGELOG)(\.[a-z]+)?)$/i;

/** What a package's own install script builds in its folder (node-gyp's output), by package. */
const BUILT_AT_INSTALL: Record<string, RegExp> = { '@tsnas/backend': /^native\/kernels\/build\// };

const exampleManifest = readManifest(EXAMPLE);
const workspace = workspacePackages();
const timings: Record<string, number> = {};

let work: string;
let registry: LocalRegistry | undefined;
let project: string;
let env: NodeJS.ProcessEnv;

/** Runs the `nas` the project installed, through npx as a user would (never fetching it). */
const npxNas = (args: string[]) => run('npx', ['--no', '--', 'nas', ...args], project, env, 120_000);

/** The @tsnas packages installing `@tsnas/cli` brings: cli and its @tsnas dependencies, transitively. */
function cliClosure(): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    const pkg = workspace.get(name);
    if (!pkg || seen.has(name)) return;
    seen.add(name);
    const m = pkg.manifest;
    for (const dep of Object.keys({ ...m.dependencies, ...m.optionalDependencies })) visit(dep);
  };
  visit('@tsnas/cli');
  visit('@tsnas/algo-darts');
  return seen;
}

describe('published to a registry and installed with npm, as users do', () => {
  beforeAll(async () => {
    for (const [name, { dir }] of workspace) {
      if (!existsSync(join(dir, 'dist', 'index.js'))) {
        throw new Error(`${name} is not built (${dir}/dist/index.js is missing): run pnpm build first`);
      }
    }
    work = mkdtempSync(join(tmpdir(), 'nas-publish-'));
    let t = Date.now();
    registry = await startLocalRegistry(join(work), [...workspace.keys(), exampleManifest.name]);
    timings.registry_start = (Date.now() - t) / 1000;

    // The proxy path third-party dependencies take; fail here with the reason, not mid-install.
    const probe = await fetch(`${registry.url}@tensorflow%2ftfjs-core`, {
      signal: AbortSignal.timeout(90_000),
    }).catch((err: Error) => ({ ok: false, status: err.message }));
    if (!probe.ok) {
      throw new Error(
        `this test installs third-party packages from ${UPLINK} through Verdaccio's proxy, and Verdaccio could not fetch @tensorflow/tfjs-core from there (${probe.status}). Check the network, or run it where npmjs is reachable.\n${registry.log()}`,
      );
    }

    const token = await registry.addUser('tsnas-publish-test', 'tsnas-publish-test-password');
    const userconfig = join(work, 'user.npmrc');
    writeFileSync(userconfig, `${registry.authLine(token)}\n`);
    env = isolatedEnv(userconfig);

    // `pnpm publish` packs each package as `pnpm pack` does: workspace:^ ranges become ^<version>.
    t = Date.now();
    mustSucceed(
      await run('pnpm', ['publish', '-r', '--registry', registry.url, '--no-git-checks'], ROOT, env, 180_000),
      'pnpm publish -r',
    );
    timings.publish_workspace = (Date.now() - t) / 1000;

    // The example as its author publishes it: its own folder, its dependencies installed (here the
    // built workspace packages, linked), `npm publish` compiling it through its prepack script.
    t = Date.now();
    const example = join(work, 'tsnas-algo-example');
    for (const f of ['package.json', 'tsconfig.json', 'src', 'configs', 'README.md'])
      cpSync(join(EXAMPLE, f), join(example, f), { recursive: true });
    mustSucceed(await run(process.execPath, [LINK, example], example, env, 30_000), 'link-workspace.mjs');
    symlinkSync(TYPESCRIPT, join(example, 'node_modules', 'typescript'), 'dir');
    mkdirSync(join(example, 'node_modules', '.bin'));
    symlinkSync(join('..', 'typescript', 'bin', 'tsc'), join(example, 'node_modules', '.bin', 'tsc'));
    mustSucceed(
      await run('npm', ['publish', '--registry', registry.url], example, env, 120_000),
      'npm publish (example)',
    );
    timings.publish_example = (Date.now() - t) / 1000;

    // A fresh project outside the workspace; everything comes from the local registry (our
    // packages from its storage, the rest through its proxy). npm's default install runs install
    // scripts: @tensorflow/tfjs-node's (an optional dependency of @tsnas/backend) fails because its
    // libtensorflow download URL answers 403, and npm then drops that optional package and goes
    // on, so the default is kept (it is what users type) and `nas` runs on wasm.
    project = join(work, 'my-project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'my-nas-project', private: true, type: 'module' }),
    );
    writeFileSync(join(project, '.npmrc'), `registry=${registry.url}\n`);
    t = Date.now();
    mustSucceed(
      await run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--prefer-offline',
          '@tsnas/cli',
          '@tsnas/algo-darts',
          exampleManifest.name,
        ],
        project,
        env,
        300_000,
      ),
      'npm install in the fresh project',
    );
    timings.npm_install = (Date.now() - t) / 1000;
  }, 600_000);

  afterAll(async () => {
    await registry?.stop();
    console.log(`publish.test timings (s): ${JSON.stringify(timings)}`);
    if (work) rmSync(work, { recursive: true, force: true });
  }, 30_000);

  it('every public workspace package is on the registry at its workspace version', async () => {
    const missing: string[] = [];
    for (const [name, { manifest }] of [
      ...workspace,
      [exampleManifest.name, { manifest: exampleManifest }],
    ] as const) {
      const res = await fetch(`${registry!.url}${name.replace('/', '%2f')}`);
      const doc = res.ok ? ((await res.json()) as { 'dist-tags': { latest: string } }) : undefined;
      if (doc?.['dist-tags'].latest !== manifest.version) missing.push(`${name}@${manifest.version}`);
    }
    expect(missing).toEqual([]);
  });

  it('installs the workspace versions from the local registry, copies not links', () => {
    const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
    const installed = readdirSync(join(project, 'node_modules', '@tsnas')).map((d) => `@tsnas/${d}`);
    expect(new Set(installed)).toEqual(cliClosure());
    for (const name of [...installed, exampleManifest.name]) {
      const dir = join(project, 'node_modules', name);
      const want =
        name === exampleManifest.name ? exampleManifest.version : workspace.get(name)!.manifest.version;
      expect(readManifest(dir).version, name).toBe(want);
      expect(lock.packages[`node_modules/${name}`].resolved, name).toMatch(new RegExp(`^${registry!.url}`));
      expect(realpathSync(dir), name).not.toContain(ROOT);
    }
  });

  it('each installed package holds only what its `files` lists, and no workspace: range', () => {
    const stray: string[] = [];
    const absent: string[] = [];
    for (const name of [...cliClosure(), exampleManifest.name]) {
      const dir = join(project, 'node_modules', name);
      const manifest = readManifest(dir);
      expect(JSON.stringify(manifest), name).not.toContain('workspace:');
      const files = manifest.files ?? [];
      for (const f of files) if (!existsSync(join(dir, f))) absent.push(`${name}: ${f}`);
      for (const f of listFiles(dir)) {
        const listed = files.some((entry) => f === entry || f.startsWith(`${entry.replace(/\/$/, '')}/`));
        const built = BUILT_AT_INSTALL[name]?.test(f) ?? false;
        if (!listed && !built && !ALWAYS_PACKED.test(f)) stray.push(`${name}: ${f}`);
        if (/(^|\/)src\/.*\.ts$|\.test\.[cm]?[jt]s$/.test(f)) stray.push(`${name}: ${f} (source or test)`);
      }
    }
    expect(absent).toEqual([]);
    expect(stray).toEqual([]);
    // npm ran @tsnas/backend's install script: the native CPU kernels were compiled there.
    const addon = join(
      project,
      'node_modules',
      '@tsnas/backend',
      'native/kernels/build/Release/tsnas_cpu_kernels.node',
    );
    expect(existsSync(addon), addon).toBe(true);
  });

  it('every exports entry resolves from the project, and the code ones import', async () => {
    // One Node process in the project resolves each subpath the way a user's import does; wildcard
    // subpaths are tried with a file that exists under them.
    const script = `
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const names = ${JSON.stringify([...cliClosure(), exampleManifest.name])};
const problems = [];
let imported = 0;
for (const name of names) {
  const dir = 'node_modules/' + name;
  const pkg = JSON.parse(readFileSync(dir + '/package.json', 'utf8'));
  for (const [sub, target] of Object.entries(pkg.exports ?? { '.': pkg.main })) {
    let spec = name + sub.slice(1);
    if (sub.includes('*')) {
      const folder = sub.slice(2, sub.indexOf('*'));
      const first = readdirSync(dir + '/' + folder)[0];
      if (!first) { problems.push(spec + ': nothing under ' + folder); continue; }
      spec = spec.replace('*', first);
    }
    try {
      const file = fileURLToPath(import.meta.resolve(spec));
      if (!existsSync(file)) { problems.push(spec + ' -> missing ' + file); continue; }
      if (typeof target === 'object' && target.types && !existsSync(dir + '/' + target.types))
        problems.push(spec + ': types ' + target.types + ' missing');
      if (/\\.[cm]?js$/.test(file)) { await import(spec); imported++; }
    } catch (err) {
      problems.push(spec + ': ' + err.message.split('\\n')[0]);
    }
  }
}
console.log(JSON.stringify({ problems, imported }));
`;
    writeFileSync(join(project, 'check-exports.mjs'), script);
    const r = await run(process.execPath, ['check-exports.mjs'], project, env, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const { problems, imported } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(problems).toEqual([]);
    expect(imported).toBeGreaterThanOrEqual(cliClosure().size + 1);
  });

  it('puts the bins on the path: `npx nas --version` prints the published version', async () => {
    for (const name of cliClosure()) {
      const { bin } = workspace.get(name)!.manifest;
      const names = typeof bin === 'string' ? [name.split('/')[1]] : Object.keys(bin ?? {});
      for (const b of names)
        expect(existsSync(join(project, 'node_modules', '.bin', b!)), `${name}: bin ${b}`).toBe(true);
    }
    const r = await npxNas(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(workspace.get('@tsnas/cli')!.manifest.version);
  });

  it('`npx nas algos --json` lists the built-ins and the example plug-in installed from the registry', async () => {
    const r = await npxNas(['algos', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { name: string; package: string; version: string; origin: string }[];
    const byName = Object.fromEntries(rows.map((row) => [row.name, row]));
    for (const algo of ['darts', 'random', 'diversity']) {
      expect(byName[algo], algo).toMatchObject({
        package: `@tsnas/algo-${algo}`,
        version: workspace.get(`@tsnas/algo-${algo}`)!.manifest.version,
        origin: 'built-in',
      });
    }
    expect(byName.example).toMatchObject({
      package: exampleManifest.name,
      version: exampleManifest.version,
      origin: 'installed',
    });
  });

  it('`npx nas darts --toy` searches and evaluates there and writes report.html', async () => {
    const r = await npxNas(['darts', '--toy', '--exp-dir', 'darts-toy', '--json']);
    timings.darts_toy = r.seconds;
    expect(r.code, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(line.kind).toBe('summary');
    expect(line.summary.algo_package).toBe(
      `@tsnas/algo-darts@${workspace.get('@tsnas/algo-darts')!.manifest.version}`,
    );
    expect(line.summary.eval.test_top1).toBeGreaterThanOrEqual(0);
    expect(line.summary.eval.test_top1).toBeLessThanOrEqual(1);
    expect(line.report).toBe(join(project, 'darts-toy', 'report.html'));
    expect(existsSync(line.report)).toBe(true);
    expect(existsSync(join(project, 'darts-toy', 'summary.json'))).toBe(true);
  });

  it('`npx nas example --toy` runs the third-party plug-in with the profile it published', async () => {
    const r = await npxNas(['example', '--toy', '--exp-dir', 'example-toy', '--json']);
    timings.example_toy = r.seconds;
    expect(r.code, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(line.summary.algo_package).toBe(`${exampleManifest.name}@${exampleManifest.version}`);
    expect(line.summary.search.genotype).toContain('conv_3x3_bn_relu');
    expect(line.summary.eval.test_top1).toBeGreaterThanOrEqual(0);
    expect(existsSync(join(project, 'example-toy', 'report.html'))).toBe(true);
  });
});
