// From the profile's `common.workers` to a gradient engine for a trainer, as the runner needs it.
// The caller says how a worker builds its replica (a ReplicaFactory); this module adds the loss,
// the backend and the seed, and picks the engine.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { type GradientEngine, InProcessGradientEngine } from '../gradient-engine.js';
import type { LossConf } from '../gradients.js';
import { DataParallelEngine } from './data-parallel.js';
import type { ReplicaFactory } from './protocol.js';

/** A setup problem the user can fix (a plug-in that cannot be found, a backend that cannot split). */
export class ParallelSetupError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ParallelSetupError';
  }
}

/** Threads `auto` (or 0) asks for: two when the machine has them (see parallel/README.md). */
export const AUTO_WORKERS_MAX = 2;

/**
 * `common.workers` as a thread count: a positive integer, or 'auto' / 0 for
 * min(2, os.availableParallelism()). Anything else is a ParallelSetupError naming `key`.
 */
export function resolveWorkers(value: unknown, key = 'common.workers'): number {
  if (value === undefined || value === null) return 1;
  if (value === 'auto' || value === 0) return Math.max(1, Math.min(AUTO_WORKERS_MAX, availableParallelism()));
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw new ParallelSetupError(
    `${key}: expected a positive integer or 'auto' (0 means auto), got ${JSON.stringify(value)}`,
  );
}

/**
 * The tfjs backend a worker mirrors: the main thread's. On tensorflow each worker thread gets its
 * own TensorFlow context in the same library (tfjs-node's binding keeps per-thread state); they
 * share TensorFlow's one intra-op pool, which the run sizes cores / workers (runner).
 */
export function replicaBackend(): 'wasm' | 'cpu' | 'tensorflow' {
  const name = tf.getBackend();
  if (name === 'wasm' || name === 'cpu' || name === 'tensorflow') return name;
  throw new ParallelSetupError(
    `data-parallel training needs the wasm, cpu or tensorflow backend, not '${name}': set common.workers=1`,
  );
}

export interface GradientEngineSetup {
  /** The `common.workers` value. */
  workers: unknown;
  /** Its key path, for messages. */
  key?: string;
  /**
   * How a worker thread builds its replica of the trainer's model. Called only when threads are
   * used, so finding what a worker must load (and failing to) costs nothing in one thread.
   */
  replica: () => ReplicaFactory;
  /** The trainer's profile (label_smoothing, aux_weight). */
  loss: LossConf;
  seed?: number;
}

/**
 * The engine for a trainer: in-process for one thread or a GPU (which runs every gradient itself),
 * DataParallelEngine otherwise. `note` says which, for the run's log.
 */
export function createGradientEngine(setup: GradientEngineSetup): { engine: GradientEngine; note: string } {
  const key = setup.key ?? 'common.workers';
  const workers = resolveWorkers(setup.workers, key);
  if (workers === 1) return { engine: new InProcessGradientEngine(), note: 'gradients: 1 thread' };
  const backend = tf.getBackend();
  // One GPU: replicas would each open a TensorFlow context on it and split nothing but its memory.
  const onGpu =
    backend === 'tensorflow' && (tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
  if ((backend !== 'wasm' && backend !== 'cpu' && backend !== 'tensorflow') || onGpu) {
    return {
      engine: new InProcessGradientEngine(),
      note: `gradients: 1 thread (${key}=${workers} ignored: the ${onGpu ? 'GPU' : `${backend} backend`} runs every gradient itself)`,
    };
  }
  const recipe = {
    ...setup.replica(),
    loss: { label_smoothing: setup.loss.label_smoothing ?? 0, aux_weight: setup.loss.aux_weight ?? 0 },
    backend: replicaBackend(),
    ...(setup.seed !== undefined ? { seed: setup.seed } : {}),
  };
  return {
    engine: new DataParallelEngine({ workers, recipe }),
    note: `gradients: ${workers} threads (data-parallel: this one and ${workers - 1} worker${workers > 2 ? 's' : ''}, each on its own share of every batch's chunks)`,
  };
}
