// The runner's side: a TrialExecutor that puts the run's trials on the experiment's BullMQ queue
// (job id = trial id, so a rerun finds the jobs it queued before instead of adding new ones),
// relays the workers' progress as run events, and collects each result as it finishes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { writeFileAtomic } from '@tsnas/backend';
import { modelDescToObject } from '@tsnas/descs';
import {
  type Phase,
  type PhaseContext,
  type RunEvent,
  saveTrialResult,
  storedTrialResult,
  type Trial,
  type TrialExecutor,
  type TrialResult,
  UsageError,
} from '@tsnas/runner';
import { type Job, Queue, QueueEvents } from 'bullmq';
import {
  JOB_FORMAT,
  JOB_NAME,
  type TrialJobData,
  type TrialJobResult,
  type TrialProgress,
  USAGE_PREFIX,
} from './job.js';
import { ACTIVE_KEY, EXPERIMENTS_KEY, type QueueLink, queueLink } from './names.js';
import { bullConnection, checkRedis, redactUrl } from './redis.js';

/** The experiment folder's record of its trials: one row per trial id, whatever the reruns. */
export const TRIALS_FILE = 'trials.json';

export interface TrialRow {
  id: string;
  phase: Phase;
  state: 'completed' | 'failed';
  worker: string | null;
  seconds: number | null;
  best_val_top1: number | null;
  error: string | null;
}

export interface BullMQExecutorOptions {
  /** redis://HOST:PORT */
  url: string;
  /** How often the queue is read for finished trials and counts (ms; default 500). */
  pollMs?: number;
}

/** The trainer's events, relayed from the workers; their dataset and info lines stay there. */
type TrainerEvent = NonNullable<Extract<RunEvent, { kind: 'trial' }>['event']>;

const TRAINER_EVENTS = new Set(['fit_start', 'step', 'epoch_end', 'checkpoint', 'test', 'fit_end']);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An error of failed trials; exit code 2 when each failed on bad input. */
export class TrialsFailedError extends Error {
  readonly exitCode: number;
  constructor(
    readonly failures: { id: string; reason: string }[],
    queue: string,
  ) {
    const usage = failures.every((f) => f.reason.startsWith(USAGE_PREFIX));
    const lines = failures.map((f) => `trial ${f.id}: ${f.reason.replace(USAGE_PREFIX, '')}`);
    super(
      `${failures.length} trial(s) of queue ${queue} failed (fix the cause and rerun with the same --exp-dir: finished trials are kept):\n  ${lines.join('\n  ')}`,
    );
    this.name = 'TrialsFailedError';
    this.exitCode = usage ? 2 : 1;
  }
}

export class BullMQTrialExecutor implements TrialExecutor {
  readonly url: string;
  private readonly pollMs: number;

  constructor(opts: BullMQExecutorOptions) {
    this.url = opts.url;
    this.pollMs = opts.pollMs ?? 500;
  }

  /** An executor for `url`, after checking the server answers (UsageError naming the URL if not). */
  static async connect(
    url: string,
    opts: Omit<BullMQExecutorOptions, 'url'> = {},
  ): Promise<BullMQTrialExecutor> {
    await checkRedis(url);
    return new BullMQTrialExecutor({ url, ...opts });
  }

  private jobData(t: Trial, ctx: PhaseContext, link: QueueLink, phase: Phase): TrialJobData {
    if (!ctx.algo) throw new Error('BullMQTrialExecutor needs ctx.algo (the plug-in workers load)');
    return {
      format: JOB_FORMAT,
      phase,
      trial: {
        id: t.id,
        desc: modelDescToObject(t.desc),
        trainer: t.trainer,
        loader: t.loader,
        ...(t.loaderPath ? { loaderPath: t.loaderPath } : {}),
        seed: t.seed,
        dir: t.dir,
      },
      expDir: ctx.expDir,
      queue: link.queue,
      token: link.token,
      runSeed: ctx.seed,
      conf: ctx.conf,
      plugins: [ctx.algo],
      backend: ctx.backend ?? null,
    };
  }

  /** The result of a finished job; writes the trial folder from it when the worker could not. */
  private async collect(t: Trial, rv: TrialJobResult): Promise<TrialResult> {
    const stored = storedTrialResult(t.dir);
    if (stored) return stored;
    mkdirSync(t.dir, { recursive: true });
    for (const [rel, b64] of Object.entries(rv.files ?? {})) {
      const path = normalize(rel);
      if (isAbsolute(path) || path.startsWith('..') || path === 'result.json') continue;
      mkdirSync(dirname(join(t.dir, path)), { recursive: true });
      writeFileSync(join(t.dir, path), Buffer.from(b64, 'base64'));
    }
    const weights = join(t.dir, 'weights.safetensors');
    const result: TrialResult = { ...rv.result, weights: existsSync(weights) ? weights : null };
    await saveTrialResult(t.dir, result);
    return result;
  }

  async run(trials: Trial[], ctx: PhaseContext): Promise<TrialResult[]> {
    if (trials.length === 0) return [];
    // One call's trials share a phase (samples and post-train: post_train; seed runs: eval).
    const phase: Phase = trials[0].phase ?? 'post_train';
    const link = await queueLink(ctx.expDir, redactUrl(this.url));
    const connection = bullConnection(this.url);
    const queue = new Queue<TrialJobData, TrialJobResult>(link.queue, { connection });
    // QueueEvents blocks on its own connection.
    const eventsConnection = bullConnection(this.url);
    const events = new QueueEvents(link.queue, { connection: eventsConnection });
    const byId = new Map(trials.map((t) => [t.id, t]));
    const results = new Map<string, TrialResult>();
    const rows = new Map<string, TrialRow>();
    const pending = new Set<string>();
    /** Failure reasons as the queue has them (USAGE_PREFIX kept: it sets the exit code). */
    const reasons = new Map<string, string>();
    const workerOf = new Map<string, string>();
    try {
      await connection.hsetnx(
        EXPERIMENTS_KEY,
        link.queue,
        JSON.stringify({ exp_dir: ctx.expDir, host: hostname(), created: new Date().toISOString() }),
      );
      await events.waitUntilReady();
      events.on('progress', ({ jobId, data }) => {
        if (!pending.has(jobId) || typeof data !== 'object' || data === null) return;
        const p = data as unknown as TrialProgress;
        if (TRAINER_EVENTS.has(p.event?.kind)) {
          const { phase: _, ...event } = p.event as { phase: Phase } & TrainerEvent;
          ctx.emit({ kind: 'trial', phase, id: jobId, state: 'progress', worker: p.worker, event });
        }
      });
      events.on('stalled', ({ jobId }) => {
        if (!pending.has(jobId)) return;
        ctx.emit({
          kind: 'trial',
          phase,
          id: jobId,
          state: 'stalled',
          ...(workerOf.has(jobId) ? { worker: workerOf.get(jobId) } : {}),
          message: `trial ${jobId} stalled (its worker stopped answering): back in the queue for another worker`,
        });
      });

      for (const t of trials) {
        const stored = storedTrialResult(t.dir);
        if (stored) {
          results.set(t.id, stored);
          rows.set(t.id, this.row(t.id, phase, stored, null, null));
          ctx.emit({ kind: 'trial', phase, id: t.id, state: 'cached', message: `${t.id}: finished earlier` });
          continue;
        }
        let job: Job<TrialJobData, TrialJobResult> | undefined = await queue.getJob(t.id);
        if (job && job.data?.token !== link.token) {
          // A job of an earlier experiment that had the same folder (deleted since).
          if ((await job.getState()) === 'active') {
            throw new UsageError(
              `trial ${t.id} of an earlier experiment in ${ctx.expDir} is still running on ${job.processedBy ?? 'a worker'} (queue ${link.queue}); wait for it or choose another --exp-dir`,
            );
          }
          await job.remove();
          job = undefined;
        }
        if (!job) {
          await queue.add(JOB_NAME, this.jobData(t, ctx, link, phase), {
            jobId: t.id,
            // One attempt: a trial that throws fails once with its message (no retry loop). A
            // worker that dies is another matter: stalled-job detection hands its trial on.
            attempts: 1,
            removeOnComplete: false,
            removeOnFail: false,
          });
          ctx.emit({ kind: 'trial', phase, id: t.id, state: 'queued' });
        } else if ((await job.getState()) === 'failed') {
          ctx.emit({
            kind: 'trial',
            phase,
            id: t.id,
            state: 'queued',
            message: `${t.id} failed in an earlier run (${job.failedReason}); queued again`,
          });
          await job.retry('failed');
        } else {
          ctx.emit({
            kind: 'info',
            phase,
            message: `trial ${t.id}: already on queue ${link.queue} (${await job.getState()}), not queued again`,
          });
        }
        pending.add(t.id);
      }
      if (pending.size > 0) {
        await connection.sadd(ACTIVE_KEY, link.queue);
        ctx.emit({
          kind: 'info',
          phase,
          message: `${pending.size} trial(s) on queue ${link.queue} at ${redactUrl(this.url)}: start workers with \`nas worker ${redactUrl(this.url)}\``,
        });
      }

      const lastState = new Map<string, string>();
      let lastCounts = '';
      while (pending.size > 0) {
        for (const id of [...pending]) {
          const job = await queue.getJob(id);
          const t = byId.get(id)!;
          if (!job) {
            // Removed by hand (e.g. `nas trials --remove`): nothing will finish it.
            pending.delete(id);
            reasons.set(id, 'removed from the queue before it finished');
            rows.set(id, this.row(id, phase, null, null, reasons.get(id)!));
            continue;
          }
          const state = await job.getState();
          if (job.processedBy) workerOf.set(id, job.processedBy);
          if (state !== lastState.get(id)) {
            lastState.set(id, state);
            if (state === 'active') {
              ctx.emit({
                kind: 'trial',
                phase,
                id,
                state: 'active',
                ...(job.processedBy ? { worker: job.processedBy } : {}),
              });
            }
          }
          if (state === 'completed') {
            const rv = job.returnvalue;
            const result = await this.collect(t, rv);
            results.set(id, result);
            rows.set(id, this.row(id, phase, result, rv.worker, null));
            pending.delete(id);
            ctx.emit({ kind: 'trial', phase, id, state: 'completed', worker: rv.worker });
          } else if (state === 'failed') {
            const reason = job.failedReason || 'failed';
            reasons.set(id, reason);
            rows.set(id, this.row(id, phase, null, job.processedBy ?? workerOf.get(id) ?? null, reason));
            pending.delete(id);
            ctx.emit({
              kind: 'trial',
              phase,
              id,
              state: 'failed',
              ...(workerOf.has(id) ? { worker: workerOf.get(id) } : {}),
              message: reason.replace(USAGE_PREFIX, ''),
            });
          }
        }
        const c = await queue.getJobCounts(
          'waiting',
          'prioritized',
          'active',
          'delayed',
          'completed',
          'failed',
        );
        const counts = {
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
        };
        const key = JSON.stringify(counts);
        if (key !== lastCounts) {
          lastCounts = key;
          ctx.emit({ kind: 'trial_counts', phase, queue: link.queue, ...counts });
        }
        if (pending.size > 0) await sleep(this.pollMs);
      }
      const left = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      if (Object.values(left).every((n) => n === 0)) await connection.srem(ACTIVE_KEY, link.queue);
    } finally {
      await this.writeRows(
        ctx.expDir,
        link,
        rows,
        trials.map((t) => t.id),
      );
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
      eventsConnection.disconnect();
      connection.disconnect();
    }
    const failures = trials
      .filter((t) => !results.has(t.id))
      .map((t) => ({ id: t.id, reason: reasons.get(t.id) ?? 'did not finish' }));
    if (failures.length > 0) throw new TrialsFailedError(failures, link.queue);
    return trials.map((t) => results.get(t.id)!);
  }

  private row(
    id: string,
    phase: Phase,
    r: TrialResult | null,
    worker: string | null,
    error: string | null,
  ): TrialRow {
    return {
      id,
      phase,
      state: r ? 'completed' : 'failed',
      worker,
      seconds: r?.seconds ?? null,
      best_val_top1: r?.bestValTop1 ?? null,
      error: error === null ? null : error.replace(USAGE_PREFIX, ''),
    };
  }

  /** trials.json: earlier rows by id, replaced by this call's (each trial once, its last outcome). */
  private async writeRows(
    expDir: string,
    link: QueueLink,
    rows: Map<string, TrialRow>,
    order: string[],
  ): Promise<void> {
    if (rows.size === 0) return;
    const file = join(expDir, TRIALS_FILE);
    const all = new Map<string, TrialRow>();
    if (existsSync(file)) {
      for (const r of (JSON.parse(readFileSync(file, 'utf8')).trials ?? []) as TrialRow[]) all.set(r.id, r);
    }
    // In the trials' order (a Map keeps the place of a key already there).
    for (const id of order) if (rows.has(id)) all.set(id, rows.get(id)!);
    const out = { queue: link.queue, redis: link.redis, trials: [...all.values()] };
    await writeFileAtomic(file, `${JSON.stringify(out, null, 2)}\n`);
  }
}
