// Trials on workers through BullMQ (`--trials redis://...`, `nas worker`, `nas trials`), with the
// built binary against a real redis-server: TSNAS_REDIS_URL, or a private one on a free loopback
// port when redis-server is on PATH. Without either the Redis tests are skipped, saying why.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestRedis, type TestRedis } from '@tsnas/trials-bullmq/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'bin.js');
const TINY = join(here, 'tiny.yaml');

const started = await startTestRedis();
const redis: TestRedis | null = 'skip' in started ? null : started;
if ('skip' in started) console.warn(`trials.test.ts: Redis tests skipped: ${started.skip}`);

const tmp = () => mkdtempSync(join(tmpdir(), 'nas-trials-'));
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

function nas(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: here, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A child `nas` process whose JSON lines are collected as they come. */
class Nas {
  readonly child: ChildProcess;
  readonly events: any[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private buf = '';
  private waiters: { pred: (e: any) => boolean; resolve: (e: any) => void }[] = [];

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: here });
    this.child.stdout!.on('data', (d) => {
      this.buf += d.toString();
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line);
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(e)) return true;
          w.resolve(e);
          return false;
        });
      }
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  waitFor(pred: (e: any) => boolean, what: string, ms = 90_000): Promise<any> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`)),
        ms,
      );
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  kill(signal: NodeJS.Signals): Promise<unknown> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

// Two epochs per sample (so a trial can be killed after a checkpoint), tiny data; the CPU backend
// on both sides, so results can be compared bit for bit.
const SAMPLES = (n: number) => [
  `nas.search.random.samples=${n}`,
  'nas.search.post_train.trainer.epochs=2',
  'nas.search.post_train.trainer.optimizer.lr=0.1',
  'nas.search.loader.dataset.max_batches=3',
];
const runArgs = (expDir: string, extra: string[]) => [
  'random',
  '--config',
  TINY,
  '--exp-dir',
  expDir,
  '--seed',
  '5',
  '--backend',
  'cpu',
  '--search-only',
  '--json',
  ...extra,
];
// Short locks: a killed worker's trial is taken over within seconds.
const WORKER_FLAGS = ['--json', '--lock-duration', '4000', '--stalled-interval', '1000'];

const scores = (expDir: string) =>
  json(join(expDir, 'search', 'samples.json')).rows.map((r: any) => [
    r.genotype,
    r.best_val_top1,
    r.best_train_top1,
    r.params,
  ]);

const trialIds = (expDir: string) =>
  json(join(expDir, 'trials.json'))
    .trials.map((t: any) => t.id)
    .sort();

describe('unreachable Redis: exit 2 naming the URL', () => {
  const url = 'redis://127.0.0.1:1';
  it('nas random --trials', () => {
    const exp = join(tmp(), 'run');
    const r = nas(runArgs(exp, [...SAMPLES(2), '--trials', url]));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot reach Redis at ${url}`);
    // Refused before the experiment folder is made.
    expect(existsSync(exp)).toBe(false);
  });

  it('nas worker and nas trials', () => {
    for (const args of [
      ['worker', url],
      ['trials', url],
    ]) {
      const r = nas(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`cannot reach Redis at ${url}`);
    }
  });

  it('a URL that is not redis://', () => {
    const r = nas(runArgs(join(tmp(), 'run'), ['--trials', 'http://localhost:6379']));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--trials: expected a redis://HOST:PORT URL, got 'http://localhost:6379'");
  });
});

describe.skipIf(!redis)('trials on workers (BullMQ on redis-server)', () => {
  const url = redis?.url ?? '';
  const procs: Nas[] = [];
  const start = (args: string[]) => {
    const p = new Nas(args);
    procs.push(p);
    return p;
  };
  const worker = () => start(['worker', url, ...WORKER_FLAGS]);
  // The in-process reference: the same 4 samples, the same seed.
  let reference: [string, number, number, number][] = [];

  beforeAll(() => {
    const exp = join(tmp(), 'in-process');
    const r = nas(runArgs(exp, SAMPLES(4)));
    expect(r.code, r.stderr).toBe(0);
    reference = scores(exp);
    expect(reference).toHaveLength(4);
  }, 120_000);

  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('4 samples on 2 worker processes score as in-process; each trial once; nas trials lists them', async () => {
    const [a, b] = [worker(), worker()];
    const exp = join(tmp(), 'two-workers');
    const run = start(runArgs(exp, [...SAMPLES(4), '--trials', url]));
    expect((await run.exited).code, run.stderr).toBe(0);
    expect(scores(exp)).toEqual(reference);
    // Both workers trained, and no trial twice.
    const startsOf = (w: Nas) => w.events.filter((e) => e.kind === 'trial_start').map((e) => e.id);
    expect(startsOf(a).length).toBeGreaterThan(0);
    expect(startsOf(b).length).toBeGreaterThan(0);
    expect([...startsOf(a), ...startsOf(b)].sort()).toEqual(['sample-0', 'sample-1', 'sample-2', 'sample-3']);
    // The shared folder was written by the workers: checkpoints, metrics, result.
    for (let k = 0; k < 4; k++) {
      const dir = join(exp, 'search', 'samples', String(k), 'train');
      expect(json(join(dir, 'result.json')).id).toBe(`sample-${k}`);
      expect(existsSync(join(dir, 'checkpoint', 'checkpoint.safetensors'))).toBe(true);
    }
    expect(trialIds(exp)).toEqual(['sample-0', 'sample-1', 'sample-2', 'sample-3']);
    // Progress and counts came through the run's events.
    expect(run.events.some((e) => e.kind === 'trial' && e.event?.kind === 'epoch_end')).toBe(true);
    expect(run.events.filter((e) => e.kind === 'trial_counts').at(-1)).toMatchObject({
      completed: 4,
      failed: 0,
    });
    const status = nas(['trials', url, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const q = JSON.parse(status.stdout).queues.find((x: any) => x.exp_dir === exp);
    expect(q).toMatchObject({ waiting: 0, active: 0, completed: 4, failed: 0, listening: false });
  });

  it('a worker that does not write the experiment folder: the runner writes what comes back', async () => {
    const w = start(['worker', url, ...WORKER_FLAGS, '--no-shared-folder']);
    const exp = join(tmp(), 'remote');
    const run = start(runArgs(exp, [...SAMPLES(2), '--trials', url]));
    expect((await run.exited).code, run.stderr).toBe(0);
    expect(w.events.filter((e) => e.kind === 'trial_start').every((e) => e.shared === false)).toBe(true);
    expect(scores(exp)).toEqual(reference.slice(0, 2));
    for (let k = 0; k < 2; k++) {
      const dir = join(exp, 'search', 'samples', String(k), 'train');
      const result = json(join(dir, 'result.json'));
      // The runner's own paths, the worker's files: weights, metrics, the desc; no checkpoint.
      expect(result.weights).toBe(join(dir, 'weights.safetensors'));
      expect(existsSync(result.weights)).toBe(true);
      expect(
        lines(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).filter((r) => r.type === 'epoch'),
      ).toHaveLength(2);
      expect(existsSync(join(dir, 'model_desc.yaml'))).toBe(true);
      expect(existsSync(join(dir, 'checkpoint'))).toBe(false);
    }
  });

  it('a worker killed mid-trial: another takes the trial over and resumes from its checkpoint', async () => {
    const a = worker();
    await a.waitFor((e) => e.kind === 'worker' && /listening on/.test(e.message), 'worker a');
    const exp = join(tmp(), 'killed-worker');
    const run = start(runArgs(exp, [...SAMPLES(2), '--trials', url]));
    const ckpt = await a.waitFor(
      (e) => e.kind === 'run_event' && e.event.kind === 'checkpoint' && e.event.epoch === 0,
      'a checkpoint after epoch 1',
    );
    await a.kill('SIGKILL');
    const b = worker();
    const resumed = await b.waitFor(
      (e) => e.kind === 'run_event' && e.id === ckpt.id && e.event.kind === 'fit_start',
      `worker b taking over ${ckpt.id}`,
    );
    expect(resumed.event.startEpoch).toBe(1);
    expect((await run.exited).code, run.stderr).toBe(0);
    expect(run.events.some((e) => e.kind === 'trial' && e.state === 'stalled' && e.id === ckpt.id)).toBe(
      true,
    );
    // Same scores as an uninterrupted run, and each trial once in the record.
    expect(scores(exp)).toEqual(reference.slice(0, 2));
    expect(trialIds(exp)).toEqual(['sample-0', 'sample-1']);
    const metrics = readFileSync(
      join(exp, 'search', 'samples', ckpt.id.split('-')[1], 'train', 'metrics.jsonl'),
      'utf8',
    );
    // Each epoch once in the trial's metrics: the first by the killed worker, the second by the other.
    const epochs = lines(metrics)
      .filter((r) => r.type === 'epoch')
      .map((r) => r.epoch);
    expect(epochs).toEqual([0, 1]);
  });

  it('SIGTERM: the worker hands its trial back and exits 0; the next worker resumes it', async () => {
    const a = worker();
    const exp = join(tmp(), 'sigterm');
    const run = start(runArgs(exp, [...SAMPLES(1), '--trials', url]));
    await a.waitFor((e) => e.kind === 'run_event' && e.event.kind === 'checkpoint', 'a checkpoint');
    a.child.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.events.some((e) => e.kind === 'trial_handed_back' && e.id === 'sample-0')).toBe(true);
    const b = worker();
    const resumed = await b.waitFor(
      (e) => e.kind === 'run_event' && e.event.kind === 'fit_start',
      'worker b',
    );
    expect(resumed.event.startEpoch).toBeGreaterThan(0);
    expect((await run.exited).code, run.stderr).toBe(0);
    expect(scores(exp)).toEqual(reference.slice(0, 1));
  });

  it('the runner killed and rerun: finished trials are not run again, running ones not duplicated', async () => {
    const w = worker();
    const exp = join(tmp(), 'killed-runner');
    const args = runArgs(exp, [...SAMPLES(3), '--trials', url]);
    const first = start(args);
    await first.waitFor((e) => e.kind === 'trial' && e.state === 'completed', 'a finished trial');
    await first.kill('SIGKILL');
    const second = start(args);
    expect((await second.exited).code, second.stderr).toBe(0);
    const starts = w.events.filter((e) => e.kind === 'trial_start').map((e) => e.id);
    expect(starts.sort()).toEqual(['sample-0', 'sample-1', 'sample-2']);
    // The rerun queued nothing again: it found the jobs of the first run.
    expect(second.events.filter((e) => e.kind === 'trial' && e.state === 'queued')).toHaveLength(0);
    expect(scores(exp)).toEqual(reference.slice(0, 3));
    expect(trialIds(exp)).toEqual(['sample-0', 'sample-1', 'sample-2']);
  });

  it('--seeds: the eval of each seed runs on the workers, with the in-process results', async () => {
    worker();
    worker();
    const seedArgs = (expDir: string, extra: string[]) => [
      ...runArgs(expDir, ['nas.search.post_train.trainer.epochs=0', '--seeds', '1,2', ...extra]).filter(
        (a) => a !== '--search-only',
      ),
    ];
    const local = join(tmp(), 'seeds-local');
    expect(nas(seedArgs(local, [])).code).toBe(0);
    const exp = join(tmp(), 'seeds-workers');
    const run = start(seedArgs(exp, ['--trials', url]));
    expect((await run.exited).code, run.stderr).toBe(0);
    const evalOf = (dir: string) => json(join(dir, 'summary.json')).eval;
    expect(evalOf(exp).seeds.map((s: any) => [s.seed, s.test_top1, s.test_loss])).toEqual(
      evalOf(local).seeds.map((s: any) => [s.seed, s.test_top1, s.test_loss]),
    );
    expect(evalOf(exp).test_top1_std).toBe(evalOf(local).test_top1_std);
    expect(run.events.some((e) => e.kind === 'trial' && e.phase === 'eval' && e.id === 'seed-2')).toBe(true);
  });

  it('a trial failing on bad input fails once, with its id and message (exit 2)', async () => {
    const w = worker();
    const exp = join(tmp(), 'bad-input');
    const run = start(
      runArgs(exp, [...SAMPLES(2), 'nas.search.post_train.trainer.optimizer.type=bogus', '--trials', url]),
    );
    const { code } = await run.exited;
    expect(code).toBe(2);
    expect(run.stderr).toContain("trial sample-0: post_train.optimizer.type: unknown optimizer 'bogus'");
    expect(run.stderr).toContain('trial sample-1:');
    // Tried once each: no retry loop.
    expect(
      w.events
        .filter((e) => e.kind === 'trial_start')
        .map((e) => e.id)
        .sort(),
    ).toEqual(['sample-0', 'sample-1']);
    const rows = json(join(exp, 'trials.json')).trials;
    expect(rows.map((r: any) => [r.id, r.state])).toEqual([
      ['sample-0', 'failed'],
      ['sample-1', 'failed'],
    ]);
    const q = JSON.parse(nas(['trials', url, '--json']).stdout).queues.find((x: any) => x.exp_dir === exp);
    expect(q.failed).toBe(2);
    expect(q.failures[0].reason).toContain("unknown optimizer 'bogus'");
  });
});
