// These tests run the built `nas` binary (dist/bin.js) as a user would, not the sources.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'bin.js');
const TINY = join(here, 'tiny.yaml');

function nas(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? here,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'nas-cli-'));
}

const tinyRun = (expDir: string, extra: string[] = []) => [
  'darts',
  '--config',
  TINY,
  '--exp-dir',
  expDir,
  '--seed',
  '7',
  '--json',
  ...extra,
];

/** Runs the tiny profile and SIGKILLs the process right after `phase`'s checkpoint of `epoch`. */
function runUntilCheckpoint(expDir: string, phase: 'search' | 'eval', epoch = 0): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [BIN, ...tinyRun(expDir)], { cwd: here });
    let buf = '';
    let killed = false;
    child.stdout!.on('data', (d) => {
      buf += d.toString();
      for (;;) {
        const nl = buf.indexOf('\n');
        if (nl < 0) break;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const e = JSON.parse(line);
        if (!killed && e.kind === 'checkpoint' && e.phase === phase && e.epoch === epoch) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve(signal === 'SIGKILL'));
  });
}

describe('nas (built binary)', () => {
  it('nas --version prints the version of @tsnas/cli', () => {
    const r = nas(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'));
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('nas <algo> --help shows the run options, what the algorithm is and where its profile lives', () => {
    const r = nas(['darts', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: nas run [options] <algo> [overrides...]');
    expect(r.stdout).toContain('--backend <name>');
    expect(r.stdout).toMatch(/Algorithm 'darts': .+/);
    expect(r.stdout).toMatch(/package {2}@tsnas\/algo-darts@\d+\.\d+\.\d+ \(built-in\)/);
    expect(r.stdout).toMatch(/profile {2}.*configs[/\\]darts\.yaml/);
    const unknown = nas(['dartz', '--help']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown algorithm 'dartz' (did you mean 'darts'?)");
  });

  it('lists the algorithms with package and version', () => {
    const r = nas(['algos', '--json']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows).toContainEqual(
      expect.objectContaining({ name: 'darts', package: '@tsnas/algo-darts', origin: 'built-in' }),
    );
    expect(rows[0].version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('nas desc counts the DARTS paper networks exactly and draws the cells', () => {
    const dir = tmp();
    const v2 = nas(['desc', 'darts_v2', '--dataset', 'cifar10', '--json', '--svg', join(dir, 'v2.svg')]);
    expect(v2.code).toBe(0);
    const info = JSON.parse(v2.stdout);
    expect(info.params).toBe(3_825_768);
    expect(info.params_without_aux).toBe(3_349_342);
    expect(readFileSync(join(dir, 'v2.svg'), 'utf8')).toContain('sep_conv_3x3');
    expect(readFileSync(join(dir, 'v2_reduce.svg'), 'utf8')).toContain('max_pool_3x3');
    const v1 = JSON.parse(nas(['desc', 'DARTS_V1', '--dataset', 'cifar10', '--json']).stdout);
    expect([v1.params, v1.params_without_aux]).toEqual([3_645_840, 3_169_414]);
    // Archai's two separate stems add 3,132 weights at 36 channels.
    const two = JSON.parse(
      nas([
        'desc',
        'darts_v2',
        '--dataset',
        'cifar10',
        '--json',
        'nas.eval.model_desc.model_stems.ops=[stem_conv3x3, stem_conv3x3]',
      ]).stdout,
    );
    expect(two.params_without_aux - info.params_without_aux).toBe(3_132);
  });

  it('searches and evaluates end to end, writing the experiment folder', () => {
    const exp = join(tmp(), 'run');
    const r = nas(tinyRun(exp));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const f of [
      'config_used.yaml',
      'summary.json',
      'search/final_model_desc.yaml',
      'search/metrics.jsonl',
      'eval/full_model_desc.yaml',
      'eval/metrics.jsonl',
      'eval/weights.safetensors',
      'cells/normal.svg',
      'cells/reduce.svg',
    ]) {
      expect(existsSync(join(exp, f)), f).toBe(true);
    }
    const s = JSON.parse(readFileSync(join(exp, 'summary.json'), 'utf8'));
    expect(s).toMatchObject({ algo: 'darts', dataset: 'synthetic', seed: 7 });
    // auto: wasm, or tensorflow where it is built and timed faster on this run's network.
    expect(['wasm', 'tensorflow']).toContain(s.backend);
    expect(s.backend_reason).toMatch(/^auto: /);
    expect(s.search.genotype).toMatch(/^Genotype\(normal=\[\('\w+', \d\)/);
    expect(s.eval.test_top1).toBeGreaterThanOrEqual(0);
    expect(s.eval.test_top1).toBeLessThanOrEqual(1);
    expect(s.eval.params).toBeGreaterThan(0);
    expect(s.versions['@tensorflow/tfjs-core']).toBe('4.22.0');
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.kind).toBe('summary');
  });

  it('resumes after SIGKILL in search and in eval with the same result as an uninterrupted run', async () => {
    const base = tmp();
    const straight = join(base, 'straight');
    expect(nas(tinyRun(straight)).code).toBe(0);

    const crashed = join(base, 'crashed');
    expect(await runUntilCheckpoint(crashed, 'search')).toBe(true);
    expect(existsSync(join(crashed, 'search/checkpoint/checkpoint.safetensors'))).toBe(true);
    expect(existsSync(join(crashed, 'search/final_model_desc.yaml'))).toBe(false);
    // After eval epoch 1, drop path has drawn masks: the resumed run must continue their stream.
    expect(await runUntilCheckpoint(crashed, 'eval', 1)).toBe(true);
    expect(existsSync(join(crashed, 'eval/weights.safetensors'))).toBe(false);
    const r = nas(tinyRun(crashed));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"startEpoch":2');

    const a = JSON.parse(readFileSync(join(straight, 'summary.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(crashed, 'summary.json'), 'utf8'));
    expect(readFileSync(join(crashed, 'search/final_model_desc.yaml'), 'utf8')).toBe(
      readFileSync(join(straight, 'search/final_model_desc.yaml'), 'utf8'),
    );
    expect(b.search.genotype).toBe(a.search.genotype);
    expect(b.eval.test_top1).toBe(a.eval.test_top1);
    expect(b.eval.test_loss).toBeCloseTo(a.eval.test_loss, 6);
  });

  describe('bad input: one message, exit code 2, nothing already written is touched', () => {
    it('an unknown algorithm suggests the closest name and lists the known ones', () => {
      const r = nas(['dartz']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("unknown algorithm 'dartz' (did you mean 'darts'?). Known: darts");
      // Nothing near enough: no guess.
      expect(nas(['evolution']).stderr).toContain("unknown algorithm 'evolution'. Known: darts");
    });

    it('malformed YAML names the file and the line', () => {
      const dir = tmp();
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'nas:\n  search:\n    trainer: {epochs: 2\n');
      const r = nas(['darts', '--config', bad, '--exp-dir', join(dir, 'x')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.]/g, '\\.')}:\\d+`));
      expect(existsSync(join(dir, 'x'))).toBe(false);
    });

    it('an unknown override key names the key and the closest ones', () => {
      const r = nas(['darts', 'nas.search.trainer.epoch=3', '--exp-dir', join(tmp(), 'x')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('nas.search.trainer.epoch');
      expect(r.stderr).toContain('nas.search.trainer.epochs');
    });

    it('a missing dataset says where it looked', () => {
      const empty = tmp();
      const r = nas(['darts', '--dataset', 'cifar10', '--dataroot', empty, '--exp-dir', join(tmp(), 'x')], {
        env: { TSNAS_DATAROOT: empty, HOME: empty, XDG_CACHE_HOME: empty },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('cifar10');
      expect(r.stderr).toContain(empty);
    });

    it('a damaged checkpoint is named by path and left as it was', () => {
      const exp = join(tmp(), 'run');
      const ckpt = join(exp, 'search', 'checkpoint', 'checkpoint.safetensors');
      // Lay out a run that crashed with a damaged checkpoint.
      expect(nas(tinyRun(exp, ['--search-only'])).code).toBe(0);
      const summary = readFileSync(join(exp, 'summary.json'), 'utf8');
      const s = JSON.parse(summary);
      s.search = null;
      writeFileSync(join(exp, 'summary.json'), JSON.stringify(s));
      mkdirSync(dirname(ckpt), { recursive: true });
      writeFileSync(ckpt, 'not a checkpoint');
      const r = nas(tinyRun(exp));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`damaged checkpoint ${ckpt}`);
      expect(readFileSync(ckpt, 'utf8')).toBe('not a checkpoint');
    });

    it('--no-resume refuses a folder that already holds a run', () => {
      const exp = join(tmp(), 'run');
      expect(nas(tinyRun(exp, ['--search-only'])).code).toBe(0);
      const before = readFileSync(join(exp, 'summary.json'), 'utf8');
      const r = nas(tinyRun(exp, ['--no-resume']));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('already holds files');
      expect(readFileSync(join(exp, 'summary.json'), 'utf8')).toBe(before);
    });
  });
});
