// DI tokens owned by the runner. Interfaces are erased at run time, so everything is resolved by
// these symbols, never by type.
import type { ModelDescBuilder } from '@tsnas/descs';
import type { TrainableModel, Trainer, TrainerConf, TrainerOptions } from '@tsnas/trainer';
import type { FinalizerRegistry } from './finalizers.js';

/** A ModelDescBuilder instance (the base builder makes nodes without edges). */
export const MODEL_DESC_BUILDER: unique symbol = Symbol.for('@tsnas/runner:ModelDescBuilder');
/** The architecture trainer class, or null for algorithms without architecture training. */
export const ARCH_TRAINER: unique symbol = Symbol.for('@tsnas/runner:ArchTrainer');
/** The named finalizers (`default`, `random`, and whatever plug-ins add). */
export const FINALIZERS: unique symbol = Symbol.for('@tsnas/runner:Finalizers');
/** The trainer class used for post-train and eval. */
export const TRAINER: unique symbol = Symbol.for('@tsnas/runner:Trainer');
export const SEARCHER: unique symbol = Symbol.for('@tsnas/runner:Searcher');
export const EVALUATER: unique symbol = Symbol.for('@tsnas/runner:Evaluater');
/** Runs independent trainings (random-search samples, seeds); in-process by default. */
export const TRIAL_EXECUTOR: unique symbol = Symbol.for('@tsnas/runner:TrialExecutor');

export type TrainerClass = new (conf: TrainerConf, model: TrainableModel, opts?: TrainerOptions) => Trainer;
export type ArchTrainerClass = TrainerClass | null;
export type { ModelDescBuilder, FinalizerRegistry };
