// Search and eval phases (Archai's Searcher and Evaluater, §1.4-§1.5), resolved from the run's DI
// container so a plug-in can replace either. Unlike Archai, search checkpoints and resumes too.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { globalRng, seedEverything } from '@tsnas/backend';
import { type ModelDesc, modelDescToGenotype, genotypeToString, saveModelDesc } from '@tsnas/descs';
import type { DataLoaders } from '@tsnas/datasets';
import type { Model } from '@tsnas/ops';
import type { Metrics } from '@tsnas/trainer';
import { renderCurvesSvg, renderModelCellsSvg } from '@tsnas/viz';
import { ArchHistory } from './arch-history.js';
import type { FinalizerRegistry } from './finalizers.js';
import { confModelDesc, type PhaseContext, postTrainSection, trainerConf } from './context.js';
import { trainDesc } from './training.js';
import type { TrialExecutor } from './trials.js';
import {
  ARCH_TRAINER,
  type ArchTrainerClass,
  FINALIZERS,
  MODEL_DESC_BUILDER,
  type ModelDescBuilder,
  TRAINER,
  type TrainerClass,
  TRIAL_EXECUTOR,
} from './tokens.js';

export interface SearchResult {
  desc: ModelDesc;
  genotype: string;
  bestValTop1: number | null;
  seconds: number;
  params: number | null;
  /**
   * Architecture (alpha) optimizer steps the search took, resumed epochs included; 0 without
   * architecture weights; absent when the searcher does not count them.
   */
  archSteps?: number;
}

export interface EvalResult {
  testTop1: number;
  testTop5: number;
  testLoss: number;
  params: number;
  paramsWithoutAux: number;
  seconds: number;
  bestTrainTop1: number | null;
}

function writeCurves(file: string, title: string, metrics: Metrics): void {
  const ep = metrics.epochs;
  const pts = (f: (e: (typeof ep)[number]) => number | undefined) =>
    ep.flatMap((e) => (f(e) === undefined ? [] : [[e.epoch, f(e)!] as [number, number]]));
  const lines = [
    { name: 'train top1', points: pts((e) => e.train.top1) },
    { name: 'val top1', points: pts((e) => e.val?.top1) },
    { name: 'train loss', points: pts((e) => e.train.loss) },
    { name: 'val loss', points: pts((e) => e.val?.loss) },
  ].filter((l) => l.points.length > 0);
  if (lines.length === 0 || ep.length === 0) return;
  writeFileSync(file, renderCurvesSvg({ title, xLabel: 'epoch', yLabel: 'top1 / loss', lines }));
}

export async function writeCellPictures(desc: ModelDesc, expDir: string): Promise<void> {
  const dir = join(expDir, 'cells');
  mkdirSync(dir, { recursive: true });
  const { normal, reduce } = await renderModelCellsSvg(desc);
  if (normal) writeFileSync(join(dir, 'normal.svg'), normal);
  if (reduce) writeFileSync(join(dir, 'reduce.svg'), reduce);
}

/** What the search's training gave: the discrete desc and how the training went. */
export interface SearchedModel {
  desc: ModelDesc;
  bestValTop1: number | null;
  /** Training seconds, accumulated across resumes. */
  trainSeconds: number;
  /** Wall seconds of fit in this process (already in trainSeconds). */
  fitWall: number;
  /** Weights of the trained network, null when nothing was trained. */
  params: number | null;
  /** Architecture optimizer steps, resumed epochs included (0 when nothing trains alphas). */
  archSteps?: number;
}

/**
 * Archai's Searcher (§1.4) in its named steps: build the desc, search (train it when the algorithm
 * trains an architecture, then finalize), post-train, save. A plug-in overrides a step, not the
 * whole `search`.
 */
export class Searcher {
  async search(ctx: PhaseContext): Promise<SearchResult> {
    const started = performance.now();
    mkdirSync(join(ctx.expDir, 'search'), { recursive: true });
    seedEverything(ctx.seed);
    const supernet = this.buildModelDesc(ctx);
    const found = await this.searchModel(ctx, supernet);
    found.desc.clearTrainables();
    const post = await this.postTrain(ctx, found.desc);
    const bestValTop1 = post && post.bestValTop1 !== null ? post.bestValTop1 : found.bestValTop1;
    await this.save(ctx, found.desc);
    return {
      desc: found.desc,
      genotype: genotypeToString(modelDescToGenotype(found.desc)),
      bestValTop1,
      seconds: found.trainSeconds + (performance.now() - started) / 1000 - found.fitWall,
      params: found.params,
      archSteps: found.archSteps,
    };
  }

  /** The desc to search: the run's MODEL_DESC_BUILDER over `nas.search.model_desc`. */
  buildModelDesc(ctx: PhaseContext): ModelDesc {
    return ctx.container
      .resolve<ModelDescBuilder>(MODEL_DESC_BUILDER)
      .build(confModelDesc(ctx.conf.nas.search.model_desc));
  }

  /**
   * Trains the supernet with the algorithm's ARCH_TRAINER and finalizes it; without one (random
   * search) the built desc is final.
   */
  async searchModel(ctx: PhaseContext, supernet: ModelDesc): Promise<SearchedModel> {
    const conf = ctx.conf.nas.search;
    const dir = join(ctx.expDir, 'search');
    const ArchTrainer = ctx.container.resolve<ArchTrainerClass>(ARCH_TRAINER);
    if (!ArchTrainer) {
      ctx.emit({
        kind: 'phase_start',
        phase: 'search',
        detail: 'no architecture training: the built desc is final',
      });
      return {
        desc: supernet.clone(),
        bestValTop1: null,
        trainSeconds: 0,
        fitWall: 0,
        params: null,
        archSteps: 0,
      };
    }
    let params: number | null = null;
    const archHistory = new ArchHistory(join(dir, 'alphas.jsonl'));
    // An arch trainer takes one alpha step per search batch (DARTS' bilevel step, first or second
    // order), none when the network has no alphas (DivNAS' noalpha). A resumed search counts the
    // epochs its checkpoint holds: fit_start's startEpoch times the batches per epoch.
    let hasAlphas = false;
    let archSteps = 0;
    const counting: PhaseContext = {
      ...ctx,
      emit: (e) => {
        if (e.kind === 'fit_start') archSteps += e.startEpoch * e.steps;
        else if (e.kind === 'step') archSteps += 1;
        ctx.emit(e);
      },
    };
    return trainDesc(
      counting,
      {
        phase: 'search',
        desc: supernet,
        model: { affine: false, droppath: false },
        trainer: trainerConf(conf.trainer, 'arch_train'),
        Trainer: ArchTrainer,
        loader: conf.loader,
        loaderPath: 'nas.search.loader',
        dir,
        test: false,
        onModel: (model) => {
          params = model.paramCount();
          hasAlphas = model.archParams().size > 0;
          ctx.emit({
            kind: 'phase_start',
            phase: 'search',
            detail: `supernet: ${supernet.cellDescs().length} cells, ${params.toLocaleString('en-US')} weights`,
          });
        },
        onEpoch: (model, epoch) => archHistory.record(model, supernet, epoch),
      },
      async ({ model, metrics, data, fitWall }) => {
        writeCurves(join(dir, 'curves.svg'), 'search', metrics);
        const desc = await this.finalizeModel(ctx, model, supernet, data);
        return {
          desc,
          bestValTop1: metrics.bestVal()?.val?.top1 ?? null,
          trainSeconds: metrics.seconds,
          fitWall,
          params,
          archSteps: hasAlphas ? archSteps : 0,
        };
      },
    );
  }

  /** The discrete desc of a trained supernet, by the profile's finalizer (`nas.search.finalizer`). */
  async finalizeModel(
    ctx: PhaseContext,
    model: Model,
    supernet: ModelDesc,
    data: DataLoaders,
  ): Promise<ModelDesc> {
    const conf = ctx.conf.nas.search;
    const finalizers = ctx.container.resolve<FinalizerRegistry>(FINALIZERS);
    return finalizers.get(conf.finalizer ?? 'default').finalizeModel(model, supernet, {
      rng: globalRng().fork('finalize'),
      expDir: ctx.expDir,
      data: { train: data.train, val: data.val },
      conf,
      log: (message) => ctx.emit({ kind: 'info', phase: 'search', message }),
    });
  }

  /**
   * Archai's train_model_desc: trains the final desc with `nas.search.post_train` when its epochs
   * are > 0 (the default is 0: skipped). Runs as a trial, so it resumes like everything else.
   */
  async postTrain(ctx: PhaseContext, desc: ModelDesc) {
    const post = postTrainSection(ctx.conf);
    if (!post?.trainer || !(post.trainer.epochs > 0)) return null;
    const executor = ctx.container.resolve<TrialExecutor>(TRIAL_EXECUTOR);
    const [result] = await executor.run(
      [
        {
          id: 'post_train',
          desc,
          trainer: trainerConf(post.trainer, 'post_train'),
          loader: post.loader ?? ctx.conf.nas.search.loader,
          loaderPath: post.loader ? 'nas.search.post_train.loader' : 'nas.search.loader',
          seed: ctx.seed,
          dir: join(ctx.expDir, 'search', 'post_train'),
        },
      ],
      ctx,
    );
    return result;
  }

  /** search/final_model_desc.yaml and the cell pictures. */
  async save(ctx: PhaseContext, desc: ModelDesc): Promise<void> {
    await saveModelDesc(desc, join(ctx.expDir, 'search', 'final_model_desc.yaml'));
    await writeCellPictures(desc, ctx.expDir);
  }
}

export class Evaluater {
  async evaluate(ctx: PhaseContext, template: ModelDesc): Promise<EvalResult> {
    const started = performance.now();
    const conf = ctx.conf.nas.eval;
    const dir = join(ctx.expDir, 'eval');
    mkdirSync(dir, { recursive: true });
    seedEverything(ctx.seed);
    await saveModelDesc(template, join(dir, 'final_model_desc.yaml'));
    const builder = ctx.container.resolve<ModelDescBuilder>(MODEL_DESC_BUILDER);
    const desc = builder.build(confModelDesc(conf.model_desc), template);
    await saveModelDesc(desc, join(dir, 'full_model_desc.yaml'));
    let params = 0;
    let paramsWithoutAux = 0;
    return trainDesc(
      ctx,
      {
        phase: 'eval',
        desc,
        model: { affine: true, droppath: true },
        trainer: trainerConf(conf.trainer, 'eval_train'),
        Trainer: ctx.container.resolve<TrainerClass>(TRAINER),
        loader: conf.loader,
        loaderPath: 'nas.eval.loader',
        dir,
        onModel: (model) => {
          params = model.paramCount({ includeAux: true });
          paramsWithoutAux = model.paramCount({ includeAux: false });
          ctx.emit({
            kind: 'phase_start',
            phase: 'eval',
            detail: `network: ${desc.cellDescs().length} cells, ${params.toLocaleString('en-US')} parameters`,
          });
        },
      },
      async ({ model, metrics, fitWall }) => {
        writeCurves(join(dir, 'curves.svg'), 'eval', metrics);
        await model.saveWeights(join(dir, 'weights.safetensors'));
        const test = metrics.test;
        return {
          testTop1: test?.top1 ?? Number.NaN,
          testTop5: test?.top5 ?? Number.NaN,
          testLoss: test?.loss ?? Number.NaN,
          params,
          paramsWithoutAux,
          seconds: metrics.seconds + (performance.now() - started) / 1000 - fitWall,
          bestTrainTop1: metrics.bestTrain()?.train.top1 ?? null,
        };
      },
    );
  }
}
