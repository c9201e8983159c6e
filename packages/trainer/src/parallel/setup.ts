// From the profile's `common.workers` to a gradient engine for a trainer, as the runner needs it.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelDesc } from '@tsnas/descs';
import type { DependencyContainer } from 'tsyringe';
import type { LossConf } from './chunks.js';
import { DataParallelEngine } from './data-parallel.js';
import { type GradientEngine, InProcessGradientEngine } from './engine.js';
import { modelReplicaRecipe, ParallelSetupError, pluginModulesFor } from './replica.js';

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

export interface GradientEngineSetup {
  /** The `common.workers` value. */
  workers: unknown;
  /** Its key path, for messages. */
  key?: string;
  /** The desc the trainer's model was built from, and how. */
  desc: ModelDesc;
  affine: boolean;
  droppath: boolean;
  stemAffine?: boolean;
  /** The trainer's profile (label_smoothing, aux_weight). */
  loss: LossConf;
  /** The run's container: the plug-ins that own the desc's ops are loaded in each worker. */
  container: DependencyContainer;
  /** Folders plug-in packages are resolved from; default: the working directory, then the script's. */
  resolveFrom?: string[];
  seed?: number;
}

/**
 * The engine for a trainer: in-process for one thread or a native backend (already multi-threaded),
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
  const resolveFrom = setup.resolveFrom ?? [process.cwd(), ...(process.argv[1] ? [process.argv[1]] : [])];
  const recipe = modelReplicaRecipe({
    desc: setup.desc,
    affine: setup.affine,
    droppath: setup.droppath,
    ...(setup.stemAffine !== undefined ? { stemAffine: setup.stemAffine } : {}),
    loss: setup.loss,
    plugins: pluginModulesFor(setup.desc, setup.container, resolveFrom),
    ...(setup.seed !== undefined ? { seed: setup.seed } : {}),
  });
  return {
    engine: new DataParallelEngine({ workers, recipe }),
    note: `gradients: ${workers} threads (data-parallel: this one and ${workers - 1} worker${workers > 2 ? 's' : ''}, each on its own share of every batch's chunks)`,
  };
}
