// Independent trainings (random-search samples, post-train, seeds) as data in, result out. A trial
// is idempotent by id: its folder holds a checkpoint while it runs and result.json when done, so a
// rerun resumes it or returns the stored result. The default executor runs trials one after
// another in this process; a distributed executor can run the same trials elsewhere.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@tsnas/backend';
import { type ModelDesc, saveModelDesc } from '@tsnas/descs';
import type { TrainerConf } from '@tsnas/trainer';
import type { Phase, PhaseContext } from './context.js';
import { TRAINER, type TrainerClass } from './tokens.js';
import { seedEverything } from '@tsnas/backend';
import { type TrainingSpec, trainDesc } from './training.js';

export interface Trial {
  /** Unique within the experiment; names the trial's folder. */
  id: string;
  desc: ModelDesc;
  trainer: TrainerConf;
  loader: any;
  seed: number;
  /** The trial's folder (checkpoint, metrics.jsonl, desc, result.json). */
  dir: string;
  /** Key path of the loader section, for error messages. */
  loaderPath?: string;
  /** The phase its events are reported under (default post_train; seed runs of eval: eval). */
  phase?: Phase;
}

export interface TrialResult {
  id: string;
  bestValTop1: number | null;
  bestTrainTop1: number | null;
  testTop1: number | null;
  testTop5?: number | null;
  testLoss?: number | null;
  params: number;
  paramsWithoutAux?: number;
  seconds: number;
  weights: string | null;
}

export interface TrialExecutor {
  run(trials: Trial[], ctx: PhaseContext): Promise<TrialResult[]>;
}

/** The result.json of a trial folder, when the trial finished earlier; else null. */
export function storedTrialResult(dir: string): TrialResult | null {
  const file = join(dir, 'result.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as TrialResult) : null;
}

/** Writes a finished trial's result.json (atomically: the file marks the trial done). */
export async function saveTrialResult(dir: string, result: TrialResult): Promise<void> {
  await writeFileAtomic(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
}

/** Trains one desc as Archai's post_train does: affine BN, drop path when drop_path_prob > 0. */
export async function runTrial(trial: Trial, ctx: PhaseContext): Promise<TrialResult> {
  const stored = storedTrialResult(trial.dir);
  if (stored) return stored;
  mkdirSync(trial.dir, { recursive: true });
  await saveModelDesc(trial.desc, join(trial.dir, 'model_desc.yaml'));
  seedEverything(trial.seed);
  const spec: TrainingSpec = {
    phase: trial.phase ?? 'post_train',
    desc: trial.desc,
    model: { affine: true, droppath: (trial.trainer.drop_path_prob ?? 0) > 0 },
    trainer: trial.trainer,
    Trainer: ctx.container.resolve<TrainerClass>(TRAINER),
    loader: trial.loader,
    loaderPath: trial.loaderPath ?? 'loader',
    dir: trial.dir,
    // The trial's seed orders its data too (the same as the run's for samples and post-train).
    seed: trial.seed,
    title: `${trial.trainer.title} ${trial.id}`,
  };
  return trainDesc(ctx, spec, async ({ model, metrics }) => {
    const weights = join(trial.dir, 'weights.safetensors');
    await model.saveWeights(weights);
    const result: TrialResult = {
      id: trial.id,
      bestValTop1: metrics.bestVal()?.val?.top1 ?? null,
      bestTrainTop1: metrics.bestTrain()?.train.top1 ?? null,
      testTop1: metrics.test?.top1 ?? null,
      testTop5: metrics.test?.top5 ?? null,
      testLoss: metrics.test?.loss ?? null,
      params: model.paramCount(),
      paramsWithoutAux: model.paramCount({ includeAux: false }),
      seconds: metrics.seconds,
      weights,
    };
    await saveTrialResult(trial.dir, result);
    return result;
  });
}

export class InProcessTrialExecutor implements TrialExecutor {
  async run(trials: Trial[], ctx: PhaseContext): Promise<TrialResult[]> {
    const out: TrialResult[] = [];
    for (const t of trials) out.push(await runTrial(t, ctx));
    return out;
  }
}
