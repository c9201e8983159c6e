// `@tsnas/trainer/parallel`: the data-parallel gradient engine (worker threads, each holding a
// replica of the model that a ReplicaFactory builds). Advanced: a run reaches it through
// `common.workers`; a Trainer takes any GradientEngine from the main entry.
export {
  type ComputeTimings,
  DataParallelEngine,
  type DataParallelOptions,
  ReplicaWorkerError,
} from './data-parallel.js';
export type { ReplicaFactory, ReplicaRecipe } from './protocol.js';
export {
  AUTO_WORKERS_MAX,
  createGradientEngine,
  type GradientEngineSetup,
  ParallelSetupError,
  replicaBackend,
  resolveWorkers,
} from './setup.js';
