// Evaluation over several seeds (`--seeds 1,2,3`): the eval network of the found (or given) cell
// trained once per seed, each as a trial (so a distributed executor spreads them), and the test
// accuracy reported per seed with its mean and standard deviation, as papers report it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelDesc, saveModelDesc } from '@tsnas/descs';
import { UsageError } from './errors.js';
import { confModelDesc, type PhaseContext, trainerConf } from './context.js';
import { MODEL_DESC_BUILDER, type ModelDescBuilder, TRIAL_EXECUTOR } from './tokens.js';
import type { Trial, TrialExecutor } from './trials.js';

/** One seed's eval, as summary.json lists it. */
export interface SeedEval {
  seed: number;
  test_top1: number | null;
  test_top5: number | null;
  test_loss: number | null;
  best_train_top1: number | null;
  seconds: number;
  /** The seed's folder, relative to the experiment folder. */
  dir: string;
}

export interface SeedsEvalResult {
  runs: SeedEval[];
  test_top1_mean: number | null;
  /** Sample standard deviation (n - 1); null with fewer than two seeds. */
  test_top1_std: number | null;
  test_top5_mean: number | null;
  test_loss_mean: number | null;
  params: number;
  params_without_aux: number;
  /** Training time of all seeds together. */
  seconds: number;
}

/** `--seeds 1,2,3`: distinct non-negative integers, at least one. */
export function parseSeeds(spec: string): number[] {
  const parts = spec.split(',').map((p) => p.trim());
  const seeds = parts.map(Number);
  const bad = parts.find((p, i) => p === '' || !Number.isInteger(seeds[i]) || seeds[i] < 0);
  if (bad !== undefined) {
    throw new UsageError(`--seeds: expected comma-separated non-negative integers (1,2,3), got '${spec}'`);
  }
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds: '${spec}' repeats a seed`);
  return seeds;
}

export function mean(xs: number[]): number | null {
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (Bessel's n - 1, numpy's ddof=1); null below two values. */
export function sampleStd(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs)!;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

const numbers = (xs: (number | null | undefined)[]) =>
  xs.filter((x): x is number => typeof x === 'number' && !Number.isNaN(x));

/** Trains the eval network of `template` once per seed, in `<exp-dir>/eval/seed-<n>/`. */
export async function evaluateSeeds(
  ctx: PhaseContext,
  template: ModelDesc,
  seeds: number[],
): Promise<SeedsEvalResult> {
  const conf = ctx.conf.nas.eval;
  const dir = join(ctx.expDir, 'eval');
  mkdirSync(dir, { recursive: true });
  await saveModelDesc(template, join(dir, 'final_model_desc.yaml'));
  const desc = ctx.container
    .resolve<ModelDescBuilder>(MODEL_DESC_BUILDER)
    .build(confModelDesc(conf.model_desc), template);
  await saveModelDesc(desc, join(dir, 'full_model_desc.yaml'));
  ctx.emit({
    kind: 'phase_start',
    phase: 'eval',
    detail: `network: ${desc.cellDescs().length} cells, trained once per seed (${seeds.join(', ')})`,
  });
  const trials: Trial[] = seeds.map((seed) => ({
    id: `seed-${seed}`,
    phase: 'eval',
    desc,
    trainer: trainerConf(conf.trainer, 'eval_train'),
    loader: conf.loader,
    loaderPath: 'nas.eval.loader',
    seed,
    dir: join(dir, `seed-${seed}`),
  }));
  const results = await ctx.container.resolve<TrialExecutor>(TRIAL_EXECUTOR).run(trials, ctx);
  const runs: SeedEval[] = results.map((r, i) => ({
    seed: seeds[i],
    test_top1: r.testTop1,
    test_top5: r.testTop5 ?? null,
    test_loss: r.testLoss ?? null,
    best_train_top1: r.bestTrainTop1,
    seconds: r.seconds,
    dir: join('eval', `seed-${seeds[i]}`),
  }));
  const top1 = numbers(runs.map((r) => r.test_top1));
  return {
    runs,
    test_top1_mean: mean(top1),
    test_top1_std: sampleStd(top1),
    test_top5_mean: mean(numbers(runs.map((r) => r.test_top5))),
    test_loss_mean: mean(numbers(runs.map((r) => r.test_loss))),
    params: results[0]?.params ?? 0,
    params_without_aux: results[0]?.paramsWithoutAux ?? results[0]?.params ?? 0,
    seconds: results.reduce((s, r) => s + r.seconds, 0),
  };
}
