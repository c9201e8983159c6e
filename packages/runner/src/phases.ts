// Search and eval phases (Archai's Searcher and Evaluater, §1.4-§1.5), resolved from the run's DI
// container so a plug-in can replace either. Unlike Archai, search checkpoints and resumes too.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { globalRng, seedEverything } from '@tsnas/backend';
import { type ModelDesc, modelDescToGenotype, genotypeToString, saveModelDesc } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { Checkpoint, type Metrics, type TrainerConf } from '@tsnas/trainer';
import { renderCurvesSvg, renderModelCellsSvg } from '@tsnas/viz';
import { ArchHistory } from './arch-history.js';
import type { FinalizerRegistry } from './finalizers.js';
import { gradientsFor, loadData, type PhaseContext } from './context.js';
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

function trainerConf(raw: any): TrainerConf {
  return raw as TrainerConf;
}

export class Searcher {
  /**
   * Archai's train_model_desc: trains the final desc with `nas.search.post_train` when its epochs
   * are > 0 (the default is 0: skipped). Runs as a trial, so it resumes like everything else.
   */
  async postTrain(ctx: PhaseContext, desc: ModelDesc) {
    const post = ctx.conf.nas.search.post_train;
    if (!post?.trainer || !(post.trainer.epochs > 0)) return null;
    const executor = ctx.container.resolve<TrialExecutor>(TRIAL_EXECUTOR);
    const [result] = await executor.run(
      [
        {
          id: 'post_train',
          desc,
          trainer: post.trainer,
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

  async search(ctx: PhaseContext): Promise<SearchResult> {
    const started = performance.now();
    const conf = ctx.conf.nas.search;
    const dir = join(ctx.expDir, 'search');
    mkdirSync(dir, { recursive: true });
    seedEverything(ctx.seed);
    const builder = ctx.container.resolve<ModelDescBuilder>(MODEL_DESC_BUILDER);
    const supernet = builder.build(conf.model_desc);
    const ArchTrainer = ctx.container.resolve<ArchTrainerClass>(ARCH_TRAINER);
    let finalDesc: ModelDesc;
    let bestValTop1: number | null = null;
    // Training time accumulates across resumes in the checkpoint; the rest is timed here.
    let trainSeconds = 0;
    let fitWall = 0;
    let params: number | null = null;
    if (!ArchTrainer) {
      ctx.emit({
        kind: 'phase_start',
        phase: 'search',
        detail: 'no architecture training: the built desc is final',
      });
      finalDesc = supernet.clone();
      finalDesc.clearTrainables();
    } else {
      const model = new Model(supernet, { container: ctx.container, affine: false, droppath: false });
      params = model.paramCount();
      ctx.emit({
        kind: 'phase_start',
        phase: 'search',
        detail: `supernet: ${supernet.cellDescs().length} cells, ${params.toLocaleString('en-US')} weights`,
      });
      const data = await loadData(ctx, 'search', conf.loader, 'nas.search.loader');
      const archHistory = new ArchHistory(join(dir, 'alphas.jsonl'));
      const trainer = new ArchTrainer(trainerConf(conf.trainer), model, {
        gradients: gradientsFor(ctx, 'search', supernet, { affine: false, droppath: false }, conf.trainer),
        checkpoint: new Checkpoint(
          join(dir, 'checkpoint', 'checkpoint.safetensors'),
          ctx.conf.common.checkpoint?.freq ?? 1,
        ),
        metricsFile: join(dir, 'metrics.jsonl'),
        onEvent: (e) => {
          if (e.kind === 'epoch_end') archHistory.record(model, supernet, e.epoch);
          ctx.emit({ phase: 'search', ...e });
        },
      });
      // finally: as in Evaluater, free the worker threads and tensors even when fit throws.
      try {
        const fitStarted = performance.now();
        const metrics = await trainer.fit({ train: data.train, val: data.val, test: null });
        fitWall = (performance.now() - fitStarted) / 1000;
        bestValTop1 = metrics.bestVal()?.val?.top1 ?? null;
        trainSeconds = metrics.seconds;
        writeCurves(join(dir, 'curves.svg'), 'search', metrics);
        const finalizers = ctx.container.resolve<FinalizerRegistry>(FINALIZERS);
        finalDesc = await finalizers.get(conf.finalizer ?? 'default').finalizeModel(model, supernet, {
          rng: globalRng().fork('finalize'),
          expDir: ctx.expDir,
          data: { train: data.train, val: data.val },
          conf,
          log: (message) => ctx.emit({ kind: 'info', phase: 'search', message }),
        });
      } finally {
        trainer.dispose();
        model.dispose();
      }
    }
    finalDesc.clearTrainables();
    const post = await this.postTrain(ctx, finalDesc);
    if (post && post.bestValTop1 !== null) bestValTop1 = post.bestValTop1;
    await saveModelDesc(finalDesc, join(dir, 'final_model_desc.yaml'));
    await writeCellPictures(finalDesc, ctx.expDir);
    return {
      desc: finalDesc,
      genotype: genotypeToString(modelDescToGenotype(finalDesc)),
      bestValTop1,
      seconds: trainSeconds + (performance.now() - started) / 1000 - fitWall,
      params,
    };
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
    const desc = builder.build(conf.model_desc, template);
    await saveModelDesc(desc, join(dir, 'full_model_desc.yaml'));
    const model = new Model(desc, { container: ctx.container, affine: true, droppath: true });
    const params = model.paramCount({ includeAux: true });
    const paramsWithoutAux = model.paramCount({ includeAux: false });
    ctx.emit({
      kind: 'phase_start',
      phase: 'eval',
      detail: `network: ${desc.cellDescs().length} cells, ${params.toLocaleString('en-US')} parameters`,
    });
    const data = await loadData(ctx, 'eval', conf.loader, 'nas.eval.loader');
    const Trainer = ctx.container.resolve<TrainerClass>(TRAINER);
    const trainer = new Trainer(trainerConf(conf.trainer), model, {
      gradients: gradientsFor(ctx, 'eval', desc, { affine: true, droppath: true }, conf.trainer),
      checkpoint: new Checkpoint(
        join(dir, 'checkpoint', 'checkpoint.safetensors'),
        ctx.conf.common.checkpoint?.freq ?? 1,
      ),
      metricsFile: join(dir, 'metrics.jsonl'),
      onEvent: (e) => ctx.emit({ phase: 'eval', ...e }),
    });
    // finally: release the gradient worker threads and the tensors even when fit throws (a
    // library caller may catch the error and go on).
    try {
      const fitStarted = performance.now();
      const metrics = await trainer.fit({ train: data.train, val: data.val, test: data.test });
      const fitWall = (performance.now() - fitStarted) / 1000;
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
    } finally {
      trainer.dispose();
      model.dispose();
    }
  }
}
