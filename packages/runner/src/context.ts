// What every phase and trial is given (the run's container, profile, folder, seed, events) and the
// two things each training needs from the run: its data and its gradient engine. In a module of its
// own so that phases and trials both import it and neither imports the other.
import type { LoaderSection, ModelDescSection, TrainerSection, TsnasProfile } from '@tsnas/config';
import {
  DATASET_REGISTRY,
  type DatasetRegistry,
  getData,
  type DataLoaders as LoadedData,
} from '@tsnas/datasets';
import type { ConfModelDesc, ModelDesc } from '@tsnas/descs';
import type { GradientEngine, TrainerConf, TrainerEvent } from '@tsnas/trainer';
import { createGradientEngine } from '@tsnas/trainer/parallel';
import type { DependencyContainer } from 'tsyringe';
import { modelReplicaRecipe, workerResolveFrom, pluginModulesFor } from './replica-recipe.js';

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
  /**
   * The resolved, validated profile: `common`, `dataset`, `nas.search`, `nas.eval` typed by
   * @tsnas/config's schema; a plug-in's own section is `unknown` until its schema reads it.
   */
  conf: TsnasProfile;
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

/**
 * A profile's `model_desc` section as the desc builder takes it. The schema checks the section's
 * own keys; `dataset` is the profile's (base.yaml copies it in) and passes through unchecked.
 */
export function confModelDesc(section: ModelDescSection): ConfModelDesc {
  return section as ConfModelDesc;
}

/** A profile's trainer section as a Trainer takes it; `title` (optional in a profile) defaults. */
export function trainerConf(section: TrainerSection, title: string): TrainerConf {
  return { ...section, title: section.title ?? title };
}

/** `nas.search.post_train`: Archai's train_model_desc after the search, run when trainer.epochs > 0. */
export interface PostTrainSection {
  trainer?: TrainerSection;
  loader?: LoaderSection;
}

/**
 * The profile's post_train section ({} when absent). Not in the schema: Archai profiles carry
 * partial sections there; tsnas's base profile copies the eval trainer in (with epochs 0).
 */
export function postTrainSection(conf: TsnasProfile): PostTrainSection {
  return (conf.nas.search.post_train ?? {}) as PostTrainSection;
}

export async function loadData(
  ctx: PhaseContext,
  phase: Phase,
  loaderConf: any,
  confPath: string,
): Promise<LoadedData> {
  // The run's providers (built-ins and the plug-in's); a container built by hand has the built-ins.
  const registry = ctx.container.isRegistered(DATASET_REGISTRY, true)
    ? ctx.container.resolve<DatasetRegistry>(DATASET_REGISTRY)
    : undefined;
  return getData(loaderConf, {
    registry,
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
    replica: () =>
      modelReplicaRecipe({
        desc,
        ...model,
        plugins: pluginModulesFor(desc, ctx.container, workerResolveFrom()),
      }),
    loss: trainer,
    seed: ctx.seed,
  });
  if (engine.replicas > 1 || ctx.conf.common?.workers !== undefined)
    ctx.emit({ kind: 'info', phase, message: note });
  return engine;
}
