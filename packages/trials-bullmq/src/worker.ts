// The worker's side: listens to every experiment queue runners announce, trains one trial at a time
// with the runner's own runTrial on this machine's backend, reports its progress and returns its
// result. A worker that sees the experiment folder (same machine, shared disk) writes the trial
// folder there, checkpoint included, so a trial taken over from a dead worker resumes; otherwise it
// trains in a local folder and sends the folder's files back with the result.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { homedir, hostname } from 'node:os';
import { join, relative } from 'node:path';
import { type BackendChoice, initBackend } from '@tsnas/backend';
import { modelDescFromObject } from '@tsnas/descs';
import {
  type AlgoSource,
  createRunContainer,
  type PhaseContext,
  type RunEvent,
  runTrial,
  type Trial,
} from '@tsnas/runner';
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type PluginRef, type TrialJobData, type TrialJobResult, USAGE_PREFIX } from './job.js';
import type { LockKeeperMessage } from './lock-keeper.js';
import { ACTIVE_KEY, seesExperiment } from './names.js';
import { bullConnection, checkRedis, redactUrl } from './redis.js';

export interface TrialWorkerOptions {
  url: string;
  /** Where this machine keeps datasets (default: the loaders' own search, $TSNAS_DATAROOT). */
  dataroot?: string;
  /** The backend to train on; default: the one the run uses. */
  backend?: BackendChoice;
  /** Loads the plug-in a trial names (the CLI resolves built-ins and installed packages). */
  resolvePlugin: (ref: PluginRef) => Promise<AlgoSource>;
  /** Where trials of experiments this machine does not see are trained. */
  localRoot?: string;
  /**
   * false: never write into an experiment folder even when it is visible here (a read-only or slow
   * mount); train in localRoot and send the files back. Default true.
   */
  sharedFolder?: boolean;
  /** A job's lock; a worker that stops renewing it (killed) loses its trial after this long (ms). */
  lockDuration?: number;
  /** How often workers look for trials whose worker died (ms). */
  stalledInterval?: number;
  /** How often the list of experiment queues is read (ms). */
  scanMs?: number;
  /** This worker's name in the queue (default host:pid). */
  name?: string;
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { kind: 'worker'; message: string }
  | { kind: 'trial_start'; queue: string; id: string; dir: string; shared: boolean }
  | { kind: 'trial_end'; queue: string; id: string; seconds: number; best_val_top1: number | null }
  | { kind: 'trial_error'; queue: string; id: string; message: string }
  | { kind: 'trial_handed_back'; queue: string; id: string }
  | { kind: 'run_event'; queue: string; id: string; event: RunEvent };

/** The lock keeper thread's script: beside this module once built; from dist/ when run from src/. */
function lockKeeperScript(): string | null {
  for (const rel of ['./lock-keeper.js', '../dist/lock-keeper.js']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

/** Thrown inside a training to stop it when the worker shuts down; the trial goes back to the queue. */
class HandBack extends Error {}

/** The files of a trial folder, base64, checkpoints left out (the result needs none of them). */
function folderFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'checkpoint') walk(p);
      } else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

export class TrialWorker {
  readonly name: string;
  private readonly workers = new Map<string, Worker<TrialJobData, TrialJobResult>>();
  private readonly plugins = new Map<string, AlgoSource>();
  private control: Redis | null = null;
  private keeper: Thread | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  /** One trial at a time per process: tfjs and the seeded random stream are process-wide. */
  private busy = false;
  /** The queue of the trial in training, if any. */
  private trainingOn: string | null = null;
  private stopping = false;
  private activeBackend: string | null = null;
  private readonly emit: (e: WorkerEvent) => void;

  private get lockDuration(): number {
    return this.opts.lockDuration ?? 30_000;
  }

  private keep(m: LockKeeperMessage): void {
    this.keeper?.postMessage(m);
  }

  constructor(private readonly opts: TrialWorkerOptions) {
    this.name = opts.name ?? `${hostname()}:${process.pid}`;
    this.emit = opts.onEvent ?? (() => {});
  }

  /** Checks Redis, then listens to the announced queues until stop(). */
  async start(): Promise<void> {
    await checkRedis(this.opts.url, { what: 'nas worker' });
    this.control = bullConnection(this.opts.url);
    const script = lockKeeperScript();
    if (script) {
      this.keeper = new Thread(script, {
        workerData: { url: this.opts.url, lockDuration: this.lockDuration },
      });
      this.keeper.on('message', (m: { error?: string }) => {
        if (m.error) this.emit({ kind: 'worker', message: `lock renewal: ${m.error}` });
      });
      this.keeper.unref();
    } else {
      this.emit({
        kind: 'worker',
        message: 'lock-keeper.js not found (build @tsnas/trials-bullmq): long epochs may lose their lock',
      });
    }
    this.emit({ kind: 'worker', message: `worker ${this.name} listening on ${redactUrl(this.opts.url)}` });
    await this.scan();
    this.scanTimer = setInterval(() => {
      this.scan().catch((e) =>
        this.emit({ kind: 'worker', message: `scan failed: ${(e as Error).message}` }),
      );
    }, this.opts.scanMs ?? 1000);
  }

  /** Queues now listening. */
  queues(): string[] {
    return [...this.workers.keys()];
  }

  private async scan(): Promise<void> {
    if (this.stopping || !this.control) return;
    const active = new Set(await this.control.smembers(ACTIVE_KEY));
    for (const queue of active) {
      if (this.workers.has(queue)) continue;
      const w = new Worker<TrialJobData, TrialJobResult>(queue, (job, token) => this.process(job, token), {
        connection: bullConnection(this.opts.url),
        concurrency: 1,
        name: this.name,
        lockDuration: this.lockDuration,
        stalledInterval: this.opts.stalledInterval ?? 30_000,
        // A trial may outlive several dead workers before one finishes it.
        maxStalledCount: 10,
      });
      w.on('error', (e) => this.emit({ kind: 'worker', message: `queue ${queue}: ${e.message}` }));
      this.workers.set(queue, w);
      this.emit({ kind: 'worker', message: `listening to queue ${queue}` });
    }
    // Queues whose experiment has nothing left to run: stop listening (after the current trial).
    for (const [queue, w] of this.workers) {
      if (active.has(queue) || this.trainingOn === queue) continue;
      this.workers.delete(queue);
      void w.close().catch(() => {});
    }
  }

  private async plugin(ref: PluginRef): Promise<AlgoSource> {
    const key = `${ref.packageName}@${ref.version}`;
    let s = this.plugins.get(key);
    if (!s) {
      s = await this.opts.resolvePlugin(ref);
      this.plugins.set(key, s);
    }
    return s;
  }

  private async backendFor(data: TrialJobData): Promise<void> {
    const wanted = this.opts.backend ?? data.backend ?? 'auto';
    if (this.activeBackend === wanted) return;
    const info = await initBackend({ backend: wanted as BackendChoice });
    this.activeBackend = wanted;
    this.emit({ kind: 'worker', message: `backend ${info.name}: ${info.reason}` });
  }

  private async process(job: Job<TrialJobData, TrialJobResult>, token?: string): Promise<TrialJobResult> {
    const data = job.data;
    const id = job.id!;
    if (this.busy || this.stopping) {
      // Another queue's trial is training here: hand this one back for a free worker.
      await job.moveToDelayed(Date.now() + 1000, token);
      throw new DelayedError();
    }
    this.busy = true;
    this.trainingOn = data.queue;
    if (token) this.keep({ kind: 'keep', queue: data.queue, jobId: id, token });
    let container: ReturnType<typeof createRunContainer> | null = null;
    try {
      const shared = this.opts.sharedFolder !== false && seesExperiment(data.expDir, data.token);
      // The token in the name: a new experiment in a reused folder never finds the old one's results.
      const localExp = join(
        this.opts.localRoot ?? join(homedir(), '.cache', 'tsnas', 'trials'),
        `${data.queue}-${data.token.slice(0, 8)}`,
      );
      const dir = shared ? data.trial.dir : join(localExp, relative(data.expDir, data.trial.dir));
      this.emit({ kind: 'trial_start', queue: data.queue, id, dir, shared });
      const plugin = await this.plugin(data.plugins[0]);
      await this.backendFor(data);
      container = createRunContainer(plugin, data.conf);
      let lastStep = 0;
      const ctx: PhaseContext = {
        container,
        conf: data.conf,
        expDir: shared ? data.expDir : localExp,
        seed: data.runSeed,
        ...(this.opts.dataroot ? { dataroot: this.opts.dataroot } : {}),
        resume: true,
        emit: (event) => {
          if (this.stopping) throw new HandBack('worker shutting down');
          this.emit({ kind: 'run_event', queue: data.queue, id, event });
          // Steps at most twice a second: progress is for people, and each one is a Redis write.
          if ('kind' in event && event.kind === 'step' && !event.logged) {
            const now = Date.now();
            if (now - lastStep < 500) return;
            lastStep = now;
          }
          job.updateProgress({ worker: this.name, event } as any).catch(() => {});
        },
      };
      const trial: Trial = {
        id: data.trial.id,
        desc: modelDescFromObject(data.trial.desc),
        trainer: data.trial.trainer,
        loader: data.trial.loader,
        ...(data.trial.loaderPath ? { loaderPath: data.trial.loaderPath } : {}),
        seed: data.trial.seed,
        dir,
        phase: data.phase,
      };
      const result = await runTrial(trial, ctx);
      this.emit({
        kind: 'trial_end',
        queue: data.queue,
        id,
        seconds: result.seconds,
        best_val_top1: result.bestValTop1,
      });
      return shared
        ? { result, worker: this.name, shared }
        : { result, worker: this.name, shared, files: folderFiles(dir) };
    } catch (e) {
      if (e instanceof HandBack) {
        // The checkpoint of the last finished epoch stays; the next worker resumes from it.
        await job.moveToWait(token);
        this.emit({ kind: 'trial_handed_back', queue: data.queue, id });
        throw new WaitingError();
      }
      const err = e as Error & { exitCode?: number };
      const message = err.exitCode === 2 ? `${USAGE_PREFIX}${err.message}` : (err.stack ?? err.message);
      this.emit({ kind: 'trial_error', queue: data.queue, id, message: err.message });
      // No retry: the same trial with the same input fails the same way.
      throw new UnrecoverableError(`${message} (worker ${this.name})`);
    } finally {
      this.keep({ kind: 'release', jobId: id });
      container?.dispose?.();
      this.busy = false;
      this.trainingOn = null;
    }
  }

  /**
   * Stops taking trials. The trial in training stops at its next step and goes back to the queue
   * (its checkpoint stays) unless `finish` is true, which lets it run to the end first.
   */
  async stop(opts: { finish?: boolean } = {}): Promise<void> {
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.scanTimer = null;
    if (!opts.finish) this.stopping = true;
    await Promise.all([...this.workers.values()].map((w) => w.close()));
    this.workers.clear();
    this.control?.disconnect();
    this.control = null;
    this.keep({ kind: 'exit' });
    this.keeper = null;
  }
}
