export { Checkpoint, type CheckpointData, CheckpointError, takePrefix, withPrefix } from './checkpoint.js';
export { crossEntropy, topkCorrect } from './losses.js';
export {
  type Averages,
  AverageMeter,
  type EpochRecord,
  Metrics,
  type RunSummary,
  type StepRecord,
} from './metrics.js';
export {
  Adam,
  clipByGlobalNorm,
  createOptimizer,
  type Optimizer,
  type OptimizerConf,
  OptimizerConfigError,
  SGD,
} from './optimizers.js';
export {
  accumulateChunks,
  type ChunkRange,
  chunkRanges,
  type LossConf,
  type LossFn,
  modelLoss,
  type PartialGradients,
} from './parallel/chunks.js';
export {
  type ComputeTimings,
  DataParallelEngine,
  type DataParallelOptions,
  ReplicaWorkerError,
} from './parallel/data-parallel.js';
export {
  type GradientEngine,
  type GradientResult,
  type GradientTask,
  InProcessGradientEngine,
} from './parallel/engine.js';
export type { ReplicaRecipe } from './parallel/protocol.js';
export {
  type ModelRecipeOptions,
  type ModelReplicaArgs,
  modelReplicaRecipe,
  opNamesOf,
  ParallelSetupError,
  pluginModulesFor,
} from './parallel/replica.js';
export {
  AUTO_WORKERS_MAX,
  createGradientEngine,
  type GradientEngineSetup,
  resolveWorkers,
} from './parallel/setup.js';
export { type LrScheduleConf, lrAt, ScheduleConfigError } from './schedules.js';
export type { Batch, BatchSource, DataLoaders, TrainableModel } from './trainable.js';
export {
  evaluate,
  Trainer,
  type TrainerConf,
  type TrainerEvent,
  type TrainerOptions,
} from './trainer.js';
