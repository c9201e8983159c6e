// Trials on many machines (@tsnas/trials-bullmq): `--trials redis://...` on a run, `nas worker` to
// train queued trials, `nas trials` to see the queues.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { BackendChoice } from '@tsnas/backend';
import {
  type AlgoRegistry,
  type AlgoSource,
  parseSeeds,
  type Summary,
  type TrialExecutor,
  UsageError,
} from '@tsnas/runner';
import {
  BullMQTrialExecutor,
  parseRedisUrl,
  redactUrl,
  TrialWorker,
  trialsStatus,
  type WorkerEvent,
} from '@tsnas/trials-bullmq';
import { type Command, Option } from 'commander';

/** `--trials` of the run command. */
export function trialsOption(): Option {
  return new Option(
    '--trials <url>',
    'queue the trials (random-search samples, post-train) on Redis for `nas worker`s (common.trials.redis)',
  );
}

/** `--seeds` of the run command. */
export function seedsOption(): Option {
  return new Option(
    '--seeds <list>',
    'train the eval network once per seed (1,2,3), as trials; summary: each test top1, mean and std',
  ).argParser(parseSeeds);
}

/** The summary line of a seed sweep: each seed's test top1, then mean +- std. */
export function seedsLine(ev: NonNullable<Summary['eval']>): string {
  const pct = (v: number | null | undefined) => (v == null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  const each = (ev.seeds ?? []).map((r) => `${r.seed}: ${pct(r.test_top1)}`).join(', ');
  const std = ev.test_top1_std == null ? '' : ` +- ${(ev.test_top1_std * 100).toFixed(2)}`;
  return `  seeds        ${each}; mean ${pct(ev.test_top1_mean)}${std}`;
}

/** The run's trial executor: --trials, else common.trials.redis, else null (in-process). */
export function trialExecutorFactory(flag: string | undefined): (conf: any) => Promise<TrialExecutor | null> {
  return async (conf) => {
    const fromProfile = conf?.common?.trials?.redis;
    const url = flag ?? (typeof fromProfile === 'string' && fromProfile ? fromProfile : null);
    if (!url) return null;
    parseRedisUrl(url, flag ? '--trials' : 'common.trials.redis');
    return BullMQTrialExecutor.connect(url);
  };
}

function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what}: expected an integer >= 1, got '${v}'`);
    return n;
  };
}

interface WorkerFlags {
  concurrency: number;
  dataroot?: string;
  backend?: BackendChoice;
  lockDuration?: number;
  stalledInterval?: number;
  sharedFolder: boolean;
  json?: boolean;
}

function printWorkerEvent(e: WorkerEvent, json: boolean): void {
  if (json) {
    if (e.kind === 'run_event' && e.event.kind === 'step' && !e.event.logged) return;
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, ...e })}\n`);
    return;
  }
  const pct = (v: number | null | undefined) => (v == null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
  let line: string | null = null;
  switch (e.kind) {
    case 'worker':
      line = e.message;
      break;
    case 'trial_start':
      line = `${e.queue} ${e.id}: training in ${e.dir}${e.shared ? '' : ' (a local folder: the result goes back to the runner)'}`;
      break;
    case 'trial_end':
      line = `${e.queue} ${e.id}: done in ${e.seconds.toFixed(1)}s, val top1 ${pct(e.best_val_top1)}`;
      break;
    case 'trial_error':
      line = `${e.queue} ${e.id}: failed: ${e.message}`;
      break;
    case 'trial_handed_back':
      line = `${e.queue} ${e.id}: handed back to the queue (shutting down)`;
      break;
    case 'run_event': {
      const ev = e.event;
      if ('kind' in ev && ev.kind === 'epoch_end')
        line = `${e.queue} ${e.id}: epoch ${ev.epoch + 1}/${ev.epochs} train top1 ${pct(ev.train.top1)}${ev.val ? ` val top1 ${pct(ev.val.top1)}` : ''}`;
      else if ('kind' in ev && ev.kind === 'fit_start' && ev.startEpoch > 0)
        line = `${e.queue} ${e.id}: resuming after epoch ${ev.startEpoch}`;
      break;
    }
  }
  if (line !== null) process.stdout.write(`[worker ${process.pid}] ${line}\n`);
}

/** N > 1: N worker processes (tfjs and the seeded random stream are per process). */
async function runWorkerPool(url: string, n: number, argv: string[]): Promise<void> {
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, [process.argv[1], 'worker', url, ...argv, '--concurrency', '1'], {
      stdio: 'inherit',
    }),
  );
  const forward = (signal: NodeJS.Signals) => {
    for (const c of children) if (c.exitCode === null) c.kill(signal);
  };
  process.on('SIGTERM', () => forward('SIGTERM'));
  process.on('SIGINT', () => forward('SIGINT'));
  const codes = await Promise.all(
    children.map((c) => new Promise<number>((r) => c.on('exit', (code) => r(code ?? 1)))),
  );
  const bad = codes.find((c) => c !== 0);
  if (bad !== undefined) process.exitCode = bad;
}

async function runWorker(
  url: string,
  flags: WorkerFlags,
  cwd: string,
  registry: (cwd: string) => Promise<AlgoRegistry>,
): Promise<void> {
  parseRedisUrl(url, 'nas worker');
  const json = flags.json ?? !process.stdout.isTTY;
  if (flags.concurrency > 1) {
    const pass: string[] = [];
    if (flags.dataroot) pass.push('--dataroot', resolve(cwd, flags.dataroot));
    if (flags.backend) pass.push('--backend', flags.backend);
    if (flags.lockDuration) pass.push('--lock-duration', String(flags.lockDuration));
    if (flags.stalledInterval) pass.push('--stalled-interval', String(flags.stalledInterval));
    if (flags.json) pass.push('--json');
    if (!flags.sharedFolder) pass.push('--no-shared-folder');
    return runWorkerPool(url, flags.concurrency, pass);
  }
  let reg: AlgoRegistry | null = null;
  const worker = new TrialWorker({
    url,
    ...(flags.dataroot ? { dataroot: resolve(cwd, flags.dataroot) } : {}),
    ...(flags.backend ? { backend: flags.backend } : {}),
    ...(flags.lockDuration ? { lockDuration: flags.lockDuration } : {}),
    ...(flags.stalledInterval ? { stalledInterval: flags.stalledInterval } : {}),
    sharedFolder: flags.sharedFolder,
    resolvePlugin: async (ref): Promise<AlgoSource> => {
      reg ??= await registry(cwd);
      const found = reg.list().find((s) => s.packageName === ref.packageName);
      if (!found) {
        throw new UsageError(
          `the trial needs the plug-in ${ref.packageName}@${ref.version} (algorithm '${ref.name}'), which is not installed where this worker runs (${cwd})`,
        );
      }
      return found;
    },
    onEvent: (e) => printWorkerEvent(e, json),
  });
  await worker.start();
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) process.exit(130); // a second signal: leave now (the lock expires, another worker resumes)
      stopping = true;
      printWorkerEvent(
        { kind: 'worker', message: `${signal}: handing back the trial in training, then stopping` },
        json,
      );
      worker.stop().then(done, done);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  printWorkerEvent({ kind: 'worker', message: `worker ${worker.name} stopped` }, json);
  // Gradient threads and tfjs may hold the event loop; the work is handed back, so leave.
  process.exit(0);
}

async function showTrials(url: string, json: boolean): Promise<void> {
  const queues = await trialsStatus(url);
  if (json) {
    process.stdout.write(`${JSON.stringify({ redis: redactUrl(url), queues }, null, 2)}\n`);
    return;
  }
  if (queues.length === 0) {
    process.stdout.write(`no experiments have queued trials on ${redactUrl(url)}\n`);
    return;
  }
  for (const q of queues) {
    process.stdout.write(
      `${q.queue}${q.exp_dir ? `  ${q.exp_dir}` : ''}${q.host ? ` (${q.host})` : ''}\n  queued ${q.waiting + q.delayed}, running ${q.active}, done ${q.completed}, failed ${q.failed}${q.listening ? '' : '  (runner finished)'}\n`,
    );
    for (const r of q.running) {
      const at = r.epoch !== null ? ` epoch ${r.epoch}${r.epochs ? `/${r.epochs}` : ''}` : '';
      process.stdout.write(`    running ${r.id} on ${r.worker ?? '?'}${at}\n`);
    }
    for (const f of q.failures) process.stdout.write(`    failed  ${f.id}: ${f.reason}\n`);
  }
}

/** Adds `nas worker` and `nas trials`. */
export function addTrialsCommands(
  program: Command,
  cwd: string,
  registry: (cwd: string) => Promise<AlgoRegistry>,
): void {
  program
    .command('worker')
    .description('train queued trials of any experiment on this machine (--trials runs put them there)')
    .argument('<url>', 'the Redis the runs use, redis://HOST:PORT')
    .option('--concurrency <n>', 'trials at once (one process each)', positiveInt('--concurrency'), 1)
    .option(
      '--dataroot <dir>',
      'where datasets are on this machine (default: $TSNAS_DATAROOT, ~/.cache/tsnas/datasets)',
    )
    .addOption(
      new Option('--backend <name>', "tfjs backend (default: the run's)").choices([
        'auto',
        'tensorflow',
        'wasm',
        'cpu',
      ]),
    )
    .option(
      '--lock-duration <ms>',
      "how long a killed worker's trial stays locked before another worker takes it (default 30000)",
      positiveInt('--lock-duration'),
    )
    .option(
      '--stalled-interval <ms>',
      'how often to look for trials of killed workers (default 30000)',
      positiveInt('--stalled-interval'),
    )
    .option(
      '--no-shared-folder',
      "never write into the experiment folder, even when it is visible here: send the trial's files back",
    )
    .option('--json', 'JSON lines even on a terminal')
    .action(async (url: string, o: WorkerFlags) => runWorker(url, o, cwd, registry));

  program
    .command('trials')
    .description('what each experiment has queued, running, done and failed on a Redis')
    .argument('<url>', 'redis://HOST:PORT')
    .option('--json', 'print JSON')
    .action(async (url: string, o: { json?: boolean }) => showTrials(url, o.json ?? false));
}
