export { Checkpoint, type CheckpointData, CheckpointError, takePrefix, withPrefix } from './checkpoint.js';
export { crossEntropy, topkCorrect } from './losses.js';
export { type Averages, AverageMeter, type EpochRecord, Metrics, type RunSummary } from './metrics.js';
export {
  Adam,
  clipByGlobalNorm,
  createOptimizer,
  type Optimizer,
  type OptimizerConf,
  OptimizerConfigError,
  SGD,
} from './optimizers.js';
export { type LrScheduleConf, lrAt, ScheduleConfigError } from './schedules.js';
export {
  type Batch,
  type BatchSource,
  type DataLoaders,
  evaluate,
  type TrainableModel,
  Trainer,
  type TrainerConf,
  type TrainerEvent,
  type TrainerOptions,
} from './trainer.js';
