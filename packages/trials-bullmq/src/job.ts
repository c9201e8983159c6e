// What crosses the network: a trial as plain data (the desc serialised, the trainer and loader
// sections, seeds, the plug-in to load), and its result with, when the worker does not see the
// experiment folder, the small files of the trial's folder.
import type { Phase, RunEvent, TrialResult } from '@tsnas/runner';

export const JOB_NAME = 'trial';
export const JOB_FORMAT = 1;

export interface PluginRef {
  name: string;
  packageName: string;
  version: string;
}

export interface TrialJobData {
  format: typeof JOB_FORMAT;
  phase: Phase;
  trial: {
    id: string;
    /** modelDescToObject's plain form. */
    desc: unknown;
    trainer: any;
    loader: any;
    loaderPath?: string;
    seed: number;
    /** The trial's folder in the runner's experiment folder. */
    dir: string;
  };
  expDir: string;
  queue: string;
  /** The experiment folder's token (names.ts): a worker that finds it there shares the folder. */
  token: string;
  /** The run's seed (data order and splits), next to the trial's own. */
  runSeed: number;
  /** The resolved profile (checkpoint frequency, gradient threads, dataset section). */
  conf: any;
  /** The algorithm plug-in whose ops and trainer the trial uses. */
  plugins: PluginRef[];
  /** The runner's tfjs backend: the worker trains on the same one unless told otherwise. */
  backend: string | null;
}

export interface TrialJobResult {
  result: TrialResult;
  worker: string;
  /** True when the worker wrote the trial folder in the runner's experiment folder itself. */
  shared: boolean;
  /** Otherwise the folder's files (path relative to the trial folder -> base64), checkpoints left out. */
  files?: Record<string, string>;
}

/** The progress a worker reports: who trains it and one event of runTrial. */
export interface TrialProgress {
  worker: string;
  event: RunEvent;
}

/** Failure reasons carry their kind, so the runner can tell bad input (exit 2) from a crash. */
export const USAGE_PREFIX = '[usage] ';
