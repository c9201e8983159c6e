export {
  BullMQTrialExecutor,
  type BullMQExecutorOptions,
  TRIALS_FILE,
  type TrialRow,
  TrialsFailedError,
} from './executor.js';
export {
  JOB_FORMAT,
  JOB_NAME,
  type PluginRef,
  type TrialJobData,
  type TrialJobResult,
  type TrialProgress,
} from './job.js';
export {
  ACTIVE_KEY,
  EXPERIMENTS_KEY,
  QUEUE_FILE,
  type QueueLink,
  queueLink,
  queueNameFor,
  seesExperiment,
} from './names.js';
export { bullConnection, checkRedis, MIN_REDIS_VERSION, parseRedisUrl, redactUrl } from './redis.js';
export { type QueueStatus, trialsStatus } from './status.js';
export { TrialWorker, type TrialWorkerOptions, type WorkerEvent } from './worker.js';
