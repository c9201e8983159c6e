// One training of one desc, written once for search, eval, post-train and every trial: the network,
// its data, the gradient engine, the checkpoint and metrics in the training's folder, fit, whatever
// the caller does with the trained network, then the worker threads and tensors freed even when
// something throws (a library caller may catch the error and go on).
import { join } from 'node:path';
import type { DataLoaders } from '@tsnas/datasets';
import type { ModelDesc } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { Checkpoint, type Metrics, type TrainerConf } from '@tsnas/trainer';
import { gradientsFor, loadData, type Phase, type PhaseContext } from './context.js';
import type { TrainerClass } from './tokens.js';

export interface TrainingSpec {
  phase: Phase;
  desc: ModelDesc;
  /** How the network is built: BN affine (false while searching, as Archai) and drop path. */
  model: { affine: boolean; droppath: boolean };
  /** The profile's trainer section. */
  trainer: TrainerConf;
  /** The trainer class: the run's TRAINER, or the algorithm's ARCH_TRAINER for a search. */
  Trainer: TrainerClass;
  loader: any;
  /** Key path of the loader section, for error messages. */
  loaderPath: string;
  /** Where checkpoint/ and metrics.jsonl go. */
  dir: string;
  /** Orders the data and seeds the gradient replicas; default the run's seed. */
  seed?: number;
  /** false: the test split is not evaluated after fit (a search has none). Default true. */
  test?: boolean;
  /** The title events carry (default the trainer section's). */
  title?: string;
  /** Once the network exists, before the data loads (e.g. to report its size). */
  onModel?: (model: Model) => void;
  /** After every epoch, with the network as trained so far (e.g. to record its alphas). */
  onEpoch?: (model: Model, epoch: number) => void;
}

export interface Trained {
  model: Model;
  metrics: Metrics;
  data: DataLoaders;
  /** Wall seconds of fit in this process (metrics.seconds accumulates across resumes). */
  fitWall: number;
}

/**
 * Trains `spec.desc` and hands the trained network to `use` before it is freed. The caller seeds
 * the library's random stream first (the network's initialisation draws from it).
 */
export async function trainDesc<T>(
  ctx: PhaseContext,
  spec: TrainingSpec,
  use: (trained: Trained) => Promise<T> | T,
): Promise<T> {
  const model = new Model(spec.desc, { container: ctx.container, ...spec.model });
  try {
    spec.onModel?.(model);
    const runCtx = spec.seed === undefined ? ctx : { ...ctx, seed: spec.seed };
    const data = await loadData(runCtx, spec.phase, spec.loader, spec.loaderPath);
    const trainer = new spec.Trainer(spec.trainer, model, {
      gradients: gradientsFor(runCtx, spec.phase, spec.desc, spec.model, spec.trainer),
      checkpoint: new Checkpoint(
        join(spec.dir, 'checkpoint', 'checkpoint.safetensors'),
        ctx.conf.common.checkpoint?.freq ?? 1,
      ),
      metricsFile: join(spec.dir, 'metrics.jsonl'),
      onEvent: (e) => {
        if (e.kind === 'epoch_end') spec.onEpoch?.(model, e.epoch);
        ctx.emit({ phase: spec.phase, ...e, ...(spec.title ? { title: spec.title } : {}) });
      },
    });
    try {
      const started = performance.now();
      const metrics = await trainer.fit({
        train: data.train,
        val: data.val,
        test: spec.test === false ? null : data.test,
      });
      return await use({ model, metrics, data, fitWall: (performance.now() - started) / 1000 });
    } finally {
      trainer.dispose();
    }
  } finally {
    model.dispose();
  }
}
