// Random search with N samples: draw N random cells, train each briefly as a trial (the profile's
// post_train budget), keep the best by validation accuracy. With one sample it is Archai's random
// search (§7.1): the drawn cell, post-trained only when post_train epochs > 0.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedEverything, writeFileAtomic } from '@tsnas/backend';
import { genotypeToString, type ModelDesc, modelDescToGenotype, saveModelDesc } from '@tsnas/descs';
import {
  MODEL_DESC_BUILDER,
  type PhaseContext,
  postTrainSection,
  Searcher,
  type SearchResult,
  TRIAL_EXECUTOR,
  type Trial,
  type TrialExecutor,
  type TrialResult,
  trainerConf,
  UsageError,
  writeCellPictures,
} from '@tsnas/runner';
import { renderModelCellsSvg } from '@tsnas/viz';

/** A builder that can build numbered samples (RandomModelDescBuilder and its subclasses). */
export interface SampleBuilder {
  buildSample(confModelDesc: any, k: number): ModelDesc;
}

/** One row of `search/samples.json`. */
export interface SampleRow {
  sample: number;
  genotype: string;
  /** Best validation top1 of the sample's post-train, null when it was not trained. */
  best_val_top1: number | null;
  best_train_top1: number | null;
  params: number | null;
  seconds: number | null;
  /** The sample's folder, relative to the experiment folder. */
  dir: string;
}

export interface SamplesTable {
  seed: number;
  samples: number;
  post_train_epochs: number;
  /** Index of the sample kept (highest validation top1; the first one on ties). */
  best: number;
  rows: SampleRow[];
}

function isSampleBuilder(b: unknown): b is SampleBuilder {
  return typeof (b as SampleBuilder | null)?.buildSample === 'function';
}

/** `nas.search.random.samples`, checked: an integer >= 1 (default 1). */
export function sampleCount(searchConf: any): number {
  const raw = searchConf?.random?.samples ?? 1;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1) {
    throw new UsageError(`nas.search.random.samples: expected an integer >= 1, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** Index of the highest score; ties and unscored samples keep the earliest sample. */
export function bestIndex(scores: (number | null)[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    if ((scores[i] ?? Number.NEGATIVE_INFINITY) > (scores[best] ?? Number.NEGATIVE_INFINITY)) best = i;
  }
  return best;
}

export class RandomSearcher extends Searcher {
  override async search(ctx: PhaseContext): Promise<SearchResult> {
    const started = performance.now();
    const conf = ctx.conf.nas.search;
    const samples = sampleCount(conf);
    const post = postTrainSection(ctx.conf);
    const epochs = Number(post.trainer?.epochs ?? 0);
    const loader = post.loader ?? conf.loader;
    const loaderPath = post.loader ? 'nas.search.post_train.loader' : 'nas.search.loader';
    if (samples > 1) {
      // Without training there is nothing to rank the samples by.
      if (!(epochs > 0)) {
        throw new UsageError(
          `nas.search.random.samples=${samples} needs nas.search.post_train.trainer.epochs > 0 to score the samples (got ${epochs})`,
        );
      }
      if (!(Number(loader?.val_ratio) > 0)) {
        throw new UsageError(
          `nas.search.random.samples=${samples} ranks samples by validation accuracy: ${loaderPath}.val_ratio must be > 0 (got ${JSON.stringify(loader?.val_ratio)})`,
        );
      }
    }
    ctx.emit({
      kind: 'info',
      phase: 'search',
      message: `random search: seed ${ctx.seed}, ${samples} sample(s)${epochs > 0 ? `, ${epochs} post-train epoch(s) each` : ''}`,
    });

    const dir = join(ctx.expDir, 'search');
    const samplesDir = join(dir, 'samples');
    mkdirSync(samplesDir, { recursive: true });
    seedEverything(ctx.seed);
    const builder = ctx.container.resolve(MODEL_DESC_BUILDER);
    if (!isSampleBuilder(builder)) {
      throw new Error(
        'RandomSearcher needs a MODEL_DESC_BUILDER with buildSample(conf, k) (RandomModelDescBuilder)',
      );
    }

    // Every sample is drawn up front from the seed, so a resumed run sees the same samples.
    const descs: ModelDesc[] = [];
    const genotypes: string[] = [];
    for (let k = 0; k < samples; k++) {
      const desc = builder.buildSample(conf.model_desc, k);
      desc.clearTrainables();
      const genotype = genotypeToString(modelDescToGenotype(desc));
      const kDir = join(samplesDir, String(k));
      mkdirSync(kDir, { recursive: true });
      await saveModelDesc(desc, join(kDir, 'model_desc.yaml'));
      writeFileSync(join(kDir, 'genotype.txt'), `${genotype}\n`);
      const { normal, reduce } = await renderModelCellsSvg(desc);
      if (normal) writeFileSync(join(kDir, 'normal.svg'), normal);
      if (reduce) writeFileSync(join(kDir, 'reduce.svg'), reduce);
      ctx.emit({ kind: 'info', phase: 'search', message: `sample ${k}: ${genotype}` });
      descs.push(desc);
      genotypes.push(genotype);
    }

    let results: (TrialResult | null)[] = descs.map(() => null);
    let trialWall = 0;
    if (epochs > 0) {
      const trials: Trial[] = descs.map((desc, k) => ({
        id: `sample-${k}`,
        desc,
        trainer: trainerConf(post.trainer!, 'post_train'),
        loader,
        loaderPath,
        // The same seed for every sample: same initialisation stream and data order, a fair race.
        seed: ctx.seed,
        dir: join(samplesDir, String(k), 'train'),
      }));
      const executor = ctx.container.resolve<TrialExecutor>(TRIAL_EXECUTOR);
      const t0 = performance.now();
      results = await executor.run(trials, ctx);
      trialWall = (performance.now() - t0) / 1000;
    }

    const best = bestIndex(results.map((r) => r?.bestValTop1 ?? null));
    const table: SamplesTable = {
      seed: ctx.seed,
      samples,
      post_train_epochs: epochs,
      best,
      rows: descs.map((_, k) => ({
        sample: k,
        genotype: genotypes[k],
        best_val_top1: results[k]?.bestValTop1 ?? null,
        best_train_top1: results[k]?.bestTrainTop1 ?? null,
        params: results[k]?.params ?? null,
        seconds: results[k]?.seconds ?? null,
        dir: join('search', 'samples', String(k)),
      })),
    };
    await writeFileAtomic(join(dir, 'samples.json'), `${JSON.stringify(table, null, 2)}\n`);
    if (samples > 1) {
      const r = table.rows[best];
      ctx.emit({
        kind: 'info',
        phase: 'search',
        message: `best of ${samples}: sample ${best}, val top1 ${r.best_val_top1 === null ? 'n/a' : (r.best_val_top1 * 100).toFixed(2)}%`,
      });
    }

    const finalDesc = descs[best];
    await saveModelDesc(finalDesc, join(dir, 'final_model_desc.yaml'));
    await writeCellPictures(finalDesc, ctx.expDir);
    const trainSeconds = results.reduce((s, r) => s + (r?.seconds ?? 0), 0);
    return {
      desc: finalDesc,
      genotype: genotypes[best],
      bestValTop1: results[best]?.bestValTop1 ?? null,
      // Trial time is the trials' own (it accumulates across resumes); the rest is timed here.
      seconds: trainSeconds + (performance.now() - started) / 1000 - trialWall,
      params: null,
    };
  }
}
