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
  type GradientEngine,
  type GradientResult,
  type GradientTask,
  InProcessGradientEngine,
} from './gradient-engine.js';
export {
  accumulateChunks,
  addInto,
  type ChunkRange,
  chunkRanges,
  type LossConf,
  type LossFn,
  modelLoss,
  type PartialGradients,
  sliceRows,
} from './gradients.js';
export { type LrScheduleConf, lrAt, ScheduleConfigError } from './schedules.js';
export type { Batch, BatchSource, DataLoaders, TrainableModel } from './trainable.js';
export {
  evaluate,
  Trainer,
  type TrainerConf,
  type TrainerEvent,
  type TrainerOptions,
} from './trainer.js';
