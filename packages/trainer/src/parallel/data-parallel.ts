// Data-parallel gradients over worker threads: the tfjs wasm backend runs one thread per instance,
// so each extra thread holds its own replica of the model (and its own wasm heap). Per gradient
// computation the main thread sends each replica the variables that changed and its rows, computes
// its own rows meanwhile, then adds the replicas' gradient sums to its own. The trainer's loop stays
// synchronous: the main thread blocks on a shared counter (Atomics.wait) and reads the reply with
// receiveMessageOnPort, so no event-loop turn is needed.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableModel } from '../trainable.js';
import {
  accumulateChunks,
  addInto,
  type ChunkRange,
  chunkRanges,
  type EvalSums,
  evalSums,
  type PartialGradients,
  sliceRows,
} from '../gradients.js';
import {
  type GradientEngine,
  type GradientResult,
  type GradientTask,
  withZeros,
} from '../gradient-engine.js';
import type { EvalJob, GradJob, ReplicaRecipe, TensorData, WorkerInit, WorkerMessage } from './protocol.js';
import { taggedVariables } from './variables.js';

/** A replica worker failed; `message` carries the worker's own message, `workerStack` its stack. */
export class ReplicaWorkerError extends Error {
  constructor(
    message: string,
    readonly workerStack?: string,
  ) {
    super(message);
    this.name = 'ReplicaWorkerError';
  }
}

// Plain CommonJS run with `eval: true`, so a failure to load the real worker module (a missing
// build, a bad plug-in) is still reported through the shared counter instead of hanging the main
// thread, and so the tests can register tsx before importing TypeScript sources.
const BOOTSTRAP = `'use strict';
const { workerData } = require('node:worker_threads');
const { flag, port } = workerData;
let lastError = null;
const post = (m) => { try { port.postMessage(m); } catch {} Atomics.add(flag, 0, 1); Atomics.notify(flag, 0); };
process.on('uncaughtExceptionMonitor', (e) => { lastError = e; });
process.on('exit', (code) => post({ kind: 'exit', code, message: lastError ? String((lastError && lastError.stack) || lastError) : null }));
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  const { runReplicaWorker } = await import(workerData.entry);
  await runReplicaWorker(workerData);
})().catch((e) => post({ kind: 'error', message: String((e && e.message) || e), stack: e && e.stack }));
`;

const here = import.meta.url;
/** True when this file runs as TypeScript (vitest on the sources): workers then need tsx. */
const fromSource = here.endsWith('.ts');

/** The URL of a sibling module of this one, in whichever form (source or built) is running. */
export function siblingModule(base: string): string {
  return new URL(`./${base}.${fromSource ? 'ts' : 'js'}`, here).href;
}

/** tsx's ESM register API (file URL), for workers that import TypeScript sources. */
function tsxEsmApi(): string {
  const pkgFile = createRequire(here).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  return pathToFileURL(join(dirname(pkgFile), pkg.exports['./esm/api'].import.default)).href;
}

export interface DataParallelOptions {
  /** Threads in all, this one included (>= 2). */
  workers: number;
  recipe: ReplicaRecipe;
}

export interface ComputeTimings {
  /** Reading the changed variables and the rows, and posting the jobs. */
  postMs: number;
  /** This thread's own chunks. */
  ownMs: number;
  /** Waiting for the workers after that, and adding their gradients. */
  waitMs: number;
  /** Each worker's time on its job. */
  workerMs: number[];
}

interface Replica {
  index: number;
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  ready: boolean;
  /** The tensor data each variable had when last sent (tfjs gives a variable new data on assign). */
  sent: Map<string, object>;
  exitCode: number | null;
}

function tensorData(t: tf.Tensor): TensorData {
  return { shape: [...t.shape], data: t.dataSync() as Float32Array | Int32Array };
}

/**
 * Running statistics of the whole batch: each thread updated its buffers from the same values on its
 * own rows; the main thread keeps their average weighted by rows (a thread without rows has none).
 */
function averageBuffers(
  all: Map<string, tf.Variable>,
  ownRows: number,
  replicas: { rows: number; names: string[]; data: Float32Array[] }[],
): void {
  if (replicas.length === 0) return;
  const rows = ownRows + replicas.reduce((s, r) => s + r.rows, 0);
  // By name once per step: a supernet has a thousand-odd BN buffers.
  const byName = replicas.map((r) => new Map(r.names.map((name, k) => [name, r.data[k]])));
  for (const [tag, v] of all) {
    if (!tag.startsWith('b:') || v.dtype !== 'float32') continue;
    const mean = new Float32Array(v.size);
    const own = v.dataSync() as Float32Array;
    for (let i = 0; i < mean.length; i++) mean[i] = (own[i] * ownRows) / rows;
    for (const [j, r] of replicas.entries()) {
      const theirs = byName[j].get(tag);
      if (!theirs) throw new Error(`DataParallelEngine: a replica sent no buffer '${tag}'`);
      for (let i = 0; i < mean.length; i++) mean[i] += (theirs[i] * r.rows) / rows;
    }
    const t = tf.tensor(mean, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

export class DataParallelEngine implements GradientEngine {
  readonly replicas: number;
  private readonly workers: Replica[] = [];
  private dropPathP = 0;
  private failure: Error | null = null;
  private disposed = false;
  private readonly exits: Promise<number>[] = [];
  private readonly tensorCounts: number[] = [];
  private timings: ComputeTimings = { postMs: 0, ownMs: 0, waitMs: 0, workerMs: [] };

  /** Where the last computation's time went (milliseconds). */
  lastTimings(): ComputeTimings {
    return { ...this.timings, workerMs: [...this.timings.workerMs] };
  }

  /** tf.memory().numTensors of each worker after its last job (flat across steps: no leak). */
  workerTensorCounts(): number[] {
    return [...this.tensorCounts];
  }

  constructor(opts: DataParallelOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 2) {
      throw new RangeError(`DataParallelEngine: workers must be an integer >= 2, got ${opts.workers}`);
    }
    this.replicas = opts.workers;
    const tsx = fromSource ? tsxEsmApi() : null;
    for (let index = 1; index < opts.workers; index++) {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const { port1, port2 } = new MessageChannel();
      const workerData: WorkerInit = {
        recipe: opts.recipe,
        flag,
        port: port2,
        entry: siblingModule('worker'),
        tsx,
      };
      const worker = new Worker(BOOTSTRAP, {
        eval: true,
        workerData,
        transferList: [port2],
        ...(fromSource ? { execArgv: ['--conditions=@tsnas/source'] } : {}),
        name: `tsnas-replica-${index}`,
      });
      const r: Replica = { index, worker, port: port1, flag, ready: false, sent: new Map(), exitCode: null };
      // Never keep the process alive for a replica; errors arrive through the port (the 'error'
      // event still needs a listener, or Node would rethrow it in this thread).
      worker.unref();
      port1.unref();
      worker.on('error', () => {});
      this.exits.push(
        new Promise((resolve) =>
          worker.on('exit', (code) => {
            r.exitCode = code;
            resolve(code);
          }),
        ),
      );
      this.workers.push(r);
    }
  }

  setDropPathProb(p: number): void {
    this.dropPathP = p;
  }

  /** Blocks until the replica's next message. */
  private receive(r: Replica): WorkerMessage {
    for (;;) {
      // Read the counter before polling: a message posted after the poll moves the counter, so the
      // wait below returns at once instead of missing it.
      const seen = Atomics.load(r.flag, 0);
      const m = receiveMessageOnPort(r.port);
      if (m) return m.message as WorkerMessage;
      if (r.exitCode !== null) throw this.fail(r, `exited with code ${r.exitCode}`);
      Atomics.wait(r.flag, 0, seen, 1000);
    }
  }

  private fail(r: Replica, message: string, stack?: string): Error {
    const err = new ReplicaWorkerError(`data-parallel replica ${r.index} (worker thread): ${message}`, stack);
    this.failure ??= err;
    return err;
  }

  /** The next message, which must be `kind`; errors and exits become ReplicaWorkerErrors. */
  private expect<K extends WorkerMessage['kind']>(r: Replica, kind: K): WorkerMessage & { kind: K } {
    const m = this.receive(r);
    if (m.kind === kind) return m as WorkerMessage & { kind: K };
    if (m.kind === 'error') throw this.fail(r, m.message, m.stack);
    if (m.kind === 'exit') {
      const why = m.message ? `: ${m.message.split('\n')[0]}` : '';
      throw this.fail(r, `exited with code ${m.code}${why}`, m.message ?? undefined);
    }
    throw this.fail(r, `sent '${m.kind}' where '${kind}' was expected`);
  }

  private ensureReady(model: TrainableModel): void {
    const mine = taggedVariables(model);
    for (const r of this.workers) {
      if (r.ready) continue;
      const { manifest } = this.expect(r, 'ready');
      const problems: string[] = [];
      const theirs = new Map(manifest.map((e) => [e.name, e.shape]));
      for (const [name, v] of mine) {
        const s = theirs.get(name);
        if (!s) problems.push(`missing ${name}`);
        else if (s.join(',') !== v.shape.join(','))
          problems.push(`${name} is [${s}], the model's [${v.shape}]`);
      }
      for (const name of theirs.keys()) if (!mine.has(name)) problems.push(`extra ${name}`);
      if (problems.length > 0) {
        const list =
          problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; ... (${problems.length})` : '');
        throw this.fail(r, `its replica does not match the trainer's model: ${list}`);
      }
      r.ready = true;
    }
  }

  compute(model: TrainableModel, task: GradientTask): GradientResult {
    return this.guarded(() => this.computeOnce(model, task));
  }

  /** Runs one exchange with the replicas; after a failure the engine refuses every later one. */
  private guarded<T>(exchange: () => T): T {
    if (this.disposed) throw new Error('DataParallelEngine: used after dispose()');
    if (this.failure) throw this.failure;
    try {
      return exchange();
    } catch (e) {
      // Replies may be left in flight: nothing after this can be trusted to line up.
      this.failure ??= e as Error;
      throw e;
    }
  }

  private computeOnce(model: TrainableModel, task: GradientTask): GradientResult {
    this.ensureReady(model);
    const all = taggedVariables(model);
    // The variables to differentiate, by tagged name; found by identity, as names may repeat.
    const tagOf = new Map<tf.Variable, string>();
    for (const [tag, v] of all) if (!tag.startsWith('b:')) tagOf.set(v, tag);
    const wanted: [name: string, tag: string][] = [];
    for (const [name, v] of task.vars) {
      const tag = tagOf.get(v);
      if (!tag)
        throw new Error(`DataParallelEngine: '${name}' is neither a weight nor an arch param of the model`);
      wanted.push([name, tag]);
    }
    const nameOfTag = new Map(wanted.map(([name, tag]) => [tag, name]));

    // The trainer's chunks, at least one per thread; thread r takes a contiguous run of them, so
    // every chunk (and its BN batch statistics) is the one a single thread would have computed.
    const n = task.x.shape[0];
    const ranges = chunkRanges(n, Math.max(task.chunks, this.replicas));
    const share = (r: number) =>
      ranges.slice(
        Math.floor((r * ranges.length) / this.replicas),
        Math.floor(((r + 1) * ranges.length) / this.replicas),
      );
    const seed = this.dropPathSeed(model);

    const t0 = performance.now();
    const busy: Replica[] = [];
    for (const r of this.workers) {
      const mine = share(r.index);
      if (mine.length === 0) continue;
      this.post(r, all, mine, n, task, wanted, seed);
      busy.push(r);
    }
    const t1 = performance.now();
    const own = share(0);
    const total: PartialGradients =
      own.length > 0
        ? accumulateChunks(task.x, task.y, own, n, task.vars, task.loss)
        : { lossSum: 0, top1Sum: 0, top5Sum: 0, grads: new Map() };
    const t2 = performance.now();
    const workerMs: number[] = [];
    const rowsOf = (r: number) => share(r).reduce((sum, c) => sum + c.len, 0);
    const replicaBuffers: { rows: number; names: string[]; data: Float32Array[] }[] = [];
    try {
      for (const r of busy) {
        const res = this.expect(r, 'result');
        replicaBuffers.push({ rows: rowsOf(r.index), ...res.buffers });
        this.tensorCounts[r.index - 1] = res.tensors;
        workerMs.push(res.ms);
        total.lossSum += res.lossSum;
        total.top1Sum += res.top1Sum;
        total.top5Sum += res.top5Sum;
        const more = new Map<string, tf.Tensor>();
        res.names.forEach((tag, i) => {
          const name = nameOfTag.get(tag)!;
          more.set(name, tf.tensor(res.grads[i], task.vars.get(name)!.shape, 'float32'));
        });
        addInto(total.grads, more);
      }
    } catch (e) {
      for (const g of total.grads.values()) g.dispose();
      throw e;
    }
    averageBuffers(all, rowsOf(0), replicaBuffers);
    this.timings = { postMs: t1 - t0, ownMs: t2 - t1, waitMs: performance.now() - t2, workerMs };
    return {
      loss: total.lossSum / n,
      top1: total.top1Sum / n,
      top5: total.top5Sum / n,
      grads: task.zerosForMissing ? withZeros(total.grads, task.vars) : total.grads,
    };
  }

  /** A seed for the replicas' drop-path masks, drawn from the model's own mask source. */
  private dropPathSeed(model: TrainableModel): number {
    if (this.dropPathP <= 0) return 0;
    const rng = (model as { dropPathRng?: { nextSeed?: () => number } }).dropPathRng;
    if (typeof rng?.nextSeed !== 'function') {
      throw new Error(
        'DataParallelEngine: drop path needs a model with a dropPathRng (as @tsnas/ops Model has)',
      );
    }
    return rng.nextSeed();
  }

  /** The variables that changed since `r` last received them, marked as sent. */
  private changedState(r: Replica, all: Map<string, tf.Variable>): GradJob['state'] {
    const names: string[] = [];
    const tensors: TensorData[] = [];
    for (const [tag, v] of all) {
      if (r.sent.get(tag) === v.dataId) continue;
      names.push(tag);
      tensors.push(tensorData(v));
      r.sent.set(tag, v.dataId);
    }
    return { names, tensors };
  }

  /** Rows `range` of x and y as structured-clone data. */
  private rowsData(x: tf.Tensor4D, y: tf.Tensor1D, range: ChunkRange): Pick<GradJob, 'x' | 'y'> {
    const rows = sliceRows(x, y, range);
    const data = {
      x: tensorData(rows.x),
      y: { ...tensorData(rows.y), dtype: y.dtype === 'int32' ? ('int32' as const) : ('float32' as const) },
    };
    tf.dispose([rows.x, rows.y]);
    return data;
  }

  private post(
    r: Replica,
    all: Map<string, tf.Variable>,
    mine: ChunkRange[],
    n: number,
    task: GradientTask,
    wanted: [string, string][],
    seed: number,
  ): void {
    const rows = mine.reduce((s, c) => s + c.len, 0);
    const job: GradJob = {
      kind: 'grad',
      state: this.changedState(r, all),
      ...this.rowsData(task.x, task.y, { start: mine[0].start, len: rows }),
      lens: mine.map((c) => c.len),
      batchSize: n,
      vars: wanted.map(([, tag]) => tag),
      dropPath: { p: this.dropPathP, seed },
    };
    // Copies, not transfers: on the cpu backend dataSync returns the tensor's own storage.
    r.port.postMessage(job);
  }

  /**
   * Eval mode on a batch: each thread takes a contiguous share of the rows (BN uses running
   * statistics, so how rows are split does not change any row's output).
   */
  evaluate(model: TrainableModel, x: tf.Tensor4D, y: tf.Tensor1D, smoothing: number): EvalSums {
    return this.guarded(() => {
      this.ensureReady(model);
      const all = taggedVariables(model);
      const [own, ...theirs] = chunkRanges(x.shape[0], this.replicas);
      const busy = theirs.map((share, i) => {
        const r = this.workers[i];
        const job: EvalJob = {
          kind: 'eval',
          state: this.changedState(r, all),
          ...this.rowsData(x, y, share),
          smoothing,
        };
        r.port.postMessage(job);
        return r;
      });
      const total =
        theirs.length === 0 ? evalSums(model, x, y, smoothing) : this.ownRows(model, x, y, own, smoothing);
      for (const r of busy) {
        const res = this.expect(r, 'evaluated');
        this.tensorCounts[r.index - 1] = res.tensors;
        total.lossSum += res.lossSum;
        total.top1Sum += res.top1Sum;
        total.top5Sum += res.top5Sum;
      }
      return total;
    });
  }

  private ownRows(model: TrainableModel, x: tf.Tensor4D, y: tf.Tensor1D, own: ChunkRange, smoothing: number) {
    const rows = sliceRows(x, y, own);
    try {
      return evalSums(model, rows.x, rows.y, smoothing);
    } finally {
      tf.dispose([rows.x, rows.y]);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of this.workers) {
      r.port.close();
      void r.worker.terminate();
    }
  }

  /** Resolves with the workers' exit codes once every thread has stopped (after dispose()). */
  terminated(): Promise<number[]> {
    return Promise.all(this.exits);
  }
}
