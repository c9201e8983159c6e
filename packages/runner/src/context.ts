// What every phase and trial is given (the run's container, profile, folder, seed, events) and the
// two things each training needs from the run: its data and its gradient engine. In a module of its
// own so that phases and trials both import it and neither imports the other.
import { getData, type DataLoaders as LoadedData } from '@tsnas/datasets';
import type { ModelDesc } from '@tsnas/descs';
import {
  createGradientEngine,
  type GradientEngine,
  type TrainerConf,
  type TrainerEvent,
} from '@tsnas/trainer';
import type { DependencyContainer } from 'tsyringe';

export type Phase = 'search' | 'post_train' | 'eval';

export type RunEvent =
  | ({ phase: Phase } & TrainerEvent)
  | { kind: 'phase_start'; phase: Phase; detail: string }
  | {
      kind: 'dataset';
      phase: Phase;
      name: string;
      split: string;
      origin: string;
      dir: string;
      samples: number;
    }
  | { kind: 'info'; phase: Phase | 'run'; message: string }
  /** A trial run by a distributed executor: its state, or a trainer event relayed from its worker. */
  | {
      kind: 'trial';
      phase: Phase;
      id: string;
      state: 'queued' | 'active' | 'progress' | 'stalled' | 'completed' | 'failed' | 'cached';
      worker?: string;
      event?: TrainerEvent;
      message?: string;
    }
  /** The counts of a distributed executor's queue. */
  | {
      kind: 'trial_counts';
      phase: Phase;
      queue: string;
      waiting: number;
      active: number;
      delayed: number;
      completed: number;
      failed: number;
    };

export interface PhaseContext {
  container: DependencyContainer;
  /** The resolved profile. */
  conf: any;
  expDir: string;
  seed: number;
  dataroot?: string;
  resume: boolean;
  emit: (e: RunEvent) => void;
  /** The tfjs backend the run trains on (a distributed executor asks its workers for the same). */
  backend?: string;
  /** The algorithm plug-in's package, which a worker elsewhere loads to train the run's trials. */
  algo?: { name: string; packageName: string; version: string };
}

export async function loadData(
  ctx: PhaseContext,
  phase: Phase,
  loaderConf: any,
  confPath: string,
): Promise<LoadedData> {
  return getData(loaderConf, {
    seed: ctx.seed,
    confPath,
    // A data root given explicitly wins over a profile's `dataset.embedded: true`.
    ...(ctx.dataroot ? { dataroot: ctx.dataroot, useEmbedded: false } : {}),
    ...(!ctx.dataroot && process.env.TSNAS_DATAROOT ? { useEmbedded: false } : {}),
    log: (e) => ctx.emit({ kind: 'dataset', phase, ...e }),
  });
}

/** The run's gradient engine for one training (data-parallel over `common.workers` threads). */
export function gradientsFor(
  ctx: PhaseContext,
  phase: Phase,
  desc: ModelDesc,
  model: { affine: boolean; droppath: boolean },
  trainer: TrainerConf,
): GradientEngine {
  const { engine, note } = createGradientEngine({
    workers: ctx.conf.common?.workers,
    desc,
    ...model,
    loss: trainer,
    container: ctx.container,
    seed: ctx.seed,
  });
  if (engine.replicas > 1 || ctx.conf.common?.workers !== undefined)
    ctx.emit({ kind: 'info', phase, message: note });
  return engine;
}
