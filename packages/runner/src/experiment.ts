// ExperimentRunner: resolve the profile, prepare the experiment folder, search, hand the final
// desc to eval, evaluate, and write summary.json. Every phase resumes from its checkpoint when the
// same command runs again with the same --exp-dir.
import 'reflect-metadata';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, writeFileAtomic } from '@tsnas/backend';
import { dumpConfig, type TsnasProfile } from '@tsnas/config';
import { createDatasetRegistry, DATASET_REGISTRY } from '@tsnas/datasets';
import {
  getGenotype,
  genotypeToTemplate,
  loadModelDesc,
  type ModelDesc,
  ModelDescBuilder,
  parseGenotype,
} from '@tsnas/descs';
import { Trainer } from '@tsnas/trainer';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { loadRunConfig, type ProfileKind } from './config.js';
import { runBackendOptions } from './backend-options.js';
import { UsageError } from './errors.js';
import { FinalizerRegistry } from './finalizers.js';
import type { PhaseContext, RunEvent } from './context.js';
import { type EvalResult, Evaluater, Searcher, type SearchResult } from './phases.js';
import { type AlgoSource, installPlugin, validateAlgoSection } from './plugin.js';
import {
  ARCH_TRAINER,
  EVALUATER,
  FINALIZERS,
  MODEL_DESC_BUILDER,
  SEARCHER,
  TRAINER,
  TRIAL_EXECUTOR,
} from './tokens.js';
import { combinationsConf, searchCombinations } from './combinations.js';
import { evaluateSeeds, mean, type SeedEval } from './seeds.js';
import { InProcessTrialExecutor, type TrialExecutor } from './trials.js';
import { versions } from './versions.js';

export interface RunOptions {
  algo: AlgoSource;
  profile?: ProfileKind;
  /** Extra profile files (--config), applied after the algorithm's profile and the user's config. */
  configFiles?: string[];
  /** `key.path=value` overrides, applied last. */
  overrides?: string[];
  expDir?: string;
  seed?: number;
  backend?: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  dataset?: string;
  dataroot?: string;
  searchOnly?: boolean;
  evalOnly?: boolean;
  /** With evalOnly: a desc file or a genotype (name or string) to evaluate. */
  desc?: string;
  /** Train the eval network once per seed, as trials (summary: each run, mean and std). */
  seeds?: number[];
  resume?: boolean;
  cwd?: string;
  onEvent?: (e: RunEvent) => void;
  /**
   * Where the run's trials go (random-search samples, post-train): given the resolved profile, an
   * executor replacing the in-process one (e.g. a queue for workers on other machines), or null.
   */
  trialExecutor?: (conf: any) => Promise<TrialExecutor | null> | TrialExecutor | null;
}

export interface Summary {
  algo: string;
  algo_package: string;
  dataset: string;
  backend: string;
  backend_reason: string;
  /** tensorflow: the devices TensorFlow saw (name, type, memory). */
  backend_devices?: { name: string; type: string; memoryBytes: number }[];
  seed: number;
  profile: ProfileKind;
  versions: Record<string, string>;
  exp_dir: string;
  started_at: string;
  finished_at: string | null;
  search: {
    genotype: string;
    best_val_top1: number | null;
    seconds: number;
    supernet_params: number | null;
    /**
     * Architecture (alpha) optimizer steps of the search, resumed epochs included: DARTS takes one
     * per search batch (first and second order). 0 when nothing trains alphas (random search,
     * DivNAS noalpha); null when the searcher does not count them (nas.search.combinations).
     */
    arch_steps: number | null;
  } | null;
  eval: {
    test_top1: number;
    test_top5: number;
    test_loss: number;
    params: number;
    params_without_aux: number;
    best_train_top1: number | null;
    seconds: number;
    /** With --seeds: each seed's run; test_top1 and the others above are then their means. */
    seeds?: SeedEval[];
    test_top1_mean?: number | null;
    /** Sample standard deviation (n - 1) of the seeds' test top1. */
    test_top1_std?: number | null;
  } | null;
}

function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** A desc file, a genotype name (darts_v2) or a genotype string, as a template ModelDesc. */
export async function resolveTemplate(spec: string, conf: any, cwd: string): Promise<ModelDesc> {
  const path = resolve(cwd, spec);
  if (existsSync(path)) return await loadModelDesc(path);
  if (spec.trim().startsWith('Genotype(')) return genotypeToTemplate(parseGenotype(spec), conf);
  try {
    return genotypeToTemplate(getGenotype(spec), conf);
  } catch (e) {
    throw new UsageError(
      `--desc '${spec}' is neither a desc file, a genotype string nor a known genotype name: ${(e as Error).message}`,
    );
  }
}

/**
 * The run's container: defaults first, then what the plug-in (if any) declares, then its
 * `register(container, conf)` with the resolved profile `conf`.
 */
export function createRunContainer(
  algo: AlgoSource | null,
  conf?: TsnasProfile,
  parent: DependencyContainer = rootContainer,
): DependencyContainer {
  const c = parent.createChildContainer();
  c.register(MODEL_DESC_BUILDER, { useValue: new ModelDescBuilder() });
  // A factory: tsyringe reads `{ useValue: null }` as a class provider and fails to resolve it.
  c.register(ARCH_TRAINER, { useFactory: () => null });
  c.register(TRAINER, { useValue: Trainer });
  c.register(FINALIZERS, { useValue: FinalizerRegistry.withDefaults() });
  c.register(DATASET_REGISTRY, { useValue: createDatasetRegistry() });
  c.register(SEARCHER, { useValue: new Searcher() });
  c.register(EVALUATER, { useValue: new Evaluater() });
  c.register(TRIAL_EXECUTOR, { useValue: new InProcessTrialExecutor() });
  if (algo) installPlugin(c, algo, conf);
  return c;
}

export class ExperimentRunner {
  async run(opts: RunOptions): Promise<{ expDir: string; summary: Summary }> {
    const cwd = opts.cwd ?? process.cwd();
    const emit = opts.onEvent ?? (() => {});
    const resume = opts.resume ?? true;
    const profile = opts.profile ?? 'default';
    const overrides = [...(opts.overrides ?? [])];
    if (opts.seed !== undefined) overrides.push(`common.seed=${opts.seed}`);
    const loaded = await loadRunConfig({
      algo: opts.algo.plugin,
      profile,
      dataset: opts.dataset,
      configFiles: opts.configFiles ?? [],
      overrides,
      cwd,
    });
    validateAlgoSection(opts.algo.plugin, loaded);
    const conf = loaded.tree as any;
    if (opts.evalOnly && opts.searchOnly)
      throw new UsageError('--search-only and --eval-only exclude each other');
    if (opts.evalOnly && !opts.desc)
      throw new UsageError('--eval-only needs --desc FILE|GENOTYPE (the cell to evaluate)');

    combinationsConf(conf); // its errors too, before any folder is made
    // Before any folder is made: an unreachable trial queue is an error the user fixes first.
    const trialExecutor = (await opts.trialExecutor?.(conf)) ?? null;

    const datasetName: string = conf.dataset.name;
    const expDir = resolve(
      cwd,
      opts.expDir ?? join('runs', `${opts.algo.plugin.name}-${datasetName}-${timestamp()}`),
    );
    const configText = dumpConfig(conf);
    this.prepareExpDir(expDir, configText, resume);

    const summaryFile = join(expDir, 'summary.json');
    const previous: Summary | null = existsSync(summaryFile)
      ? JSON.parse(readFileSync(summaryFile, 'utf8'))
      : null;
    // The run's container first: `auto` may time the run's network on wasm and tensorflow.
    const container = createRunContainer(opts.algo, conf);
    if (trialExecutor) container.register(TRIAL_EXECUTOR, { useValue: trialExecutor });
    const choice = opts.backend ?? conf.common.backend ?? 'auto';
    // A resumed run stays on the backend it started on (float results differ between backends).
    const resumeOn = choice === 'auto' && previous?.backend ? previous.backend : undefined;
    const backend = await initBackend(
      runBackendOptions(conf, resumeOn ?? choice, container, opts.algo.plugin.name),
    ).catch((err: Error & { exitCode?: number }) => {
      if (!resumeOn) throw err;
      throw new UsageError(
        `${expDir} started on the ${resumeOn} backend, which is not available now (${err.message.split('\n')[0]}); pass --backend to continue on another one`,
      );
    });
    if (resumeOn)
      backend.reason = `auto: ${backend.name}, the backend this experiment started on (${backend.reason})`;
    emit({ kind: 'info', phase: 'run', message: `backend ${backend.name}: ${backend.reason}` });
    const seed = Number(conf.common.seed);
    const summary: Summary = {
      algo: opts.algo.plugin.name,
      algo_package: `${opts.algo.packageName}@${opts.algo.version}`,
      dataset: datasetName,
      backend: backend.name,
      backend_reason: backend.reason,
      ...(backend.devices ? { backend_devices: backend.devices } : {}),
      seed,
      profile,
      versions: versions(),
      exp_dir: expDir,
      started_at: previous?.started_at ?? new Date().toISOString(),
      finished_at: null,
      search: previous?.search ?? null,
      eval: previous?.eval ?? null,
    };
    const writeSummary = () => writeFileAtomic(summaryFile, `${JSON.stringify(summary, null, 2)}\n`);

    const ctx: PhaseContext = {
      container,
      conf,
      expDir,
      seed,
      dataroot: opts.dataroot,
      resume,
      emit,
      backend: backend.name,
      algo: { name: opts.algo.plugin.name, packageName: opts.algo.packageName, version: opts.algo.version },
    };

    let template: ModelDesc;
    const finalDescFile = join(expDir, 'search', 'final_model_desc.yaml');
    if (opts.evalOnly) {
      template = await resolveTemplate(opts.desc!, conf.nas.eval.model_desc, cwd);
      summary.search = null;
    } else if (existsSync(finalDescFile) && summary.search) {
      emit({ kind: 'info', phase: 'search', message: `search already finished: ${finalDescFile}` });
      template = await loadModelDesc(finalDescFile);
    } else {
      const searcher = container.resolve<Searcher>(SEARCHER);
      // nas.search.combinations: the searcher once per macro point (Archai's SearchCombinations).
      const result: SearchResult = combinationsConf(conf)
        ? await searchCombinations(ctx, searcher)
        : await searcher.search(ctx);
      template = result.desc;
      summary.search = {
        genotype: result.genotype,
        best_val_top1: result.bestValTop1,
        seconds: result.seconds,
        supernet_params: result.params,
        arch_steps: result.archSteps ?? (container.resolve(ARCH_TRAINER) ? null : 0),
      };
      await writeSummary();
    }

    if (!opts.searchOnly && opts.seeds?.length) {
      // Each seed is a trial: finished ones are read back, so a rerun only trains what is missing.
      const r = await evaluateSeeds(ctx, template, opts.seeds);
      summary.eval = {
        test_top1: r.test_top1_mean ?? Number.NaN,
        test_top5: r.test_top5_mean ?? Number.NaN,
        test_loss: r.test_loss_mean ?? Number.NaN,
        params: r.params,
        params_without_aux: r.params_without_aux,
        best_train_top1: mean(r.runs.flatMap((x) => (x.best_train_top1 === null ? [] : [x.best_train_top1]))),
        seconds: r.seconds,
        seeds: r.runs,
        test_top1_mean: r.test_top1_mean,
        test_top1_std: r.test_top1_std,
      };
    } else if (!opts.searchOnly) {
      if (summary.eval && existsSync(join(expDir, 'eval', 'weights.safetensors'))) {
        emit({ kind: 'info', phase: 'eval', message: 'eval already finished' });
      } else {
        const evaluater = container.resolve<Evaluater>(EVALUATER);
        const r: EvalResult = await evaluater.evaluate(ctx, template);
        summary.eval = {
          test_top1: r.testTop1,
          test_top5: r.testTop5,
          test_loss: r.testLoss,
          params: r.params,
          params_without_aux: r.paramsWithoutAux,
          best_train_top1: r.bestTrainTop1,
          seconds: r.seconds,
        };
      }
    }
    summary.finished_at = new Date().toISOString();
    await writeSummary();
    container.dispose?.();
    return { expDir, summary };
  }

  /**
   * Creates the folder and writes config_used.yaml. A folder holding a run with another profile is
   * refused (resuming it would mix two experiments); so is reusing a folder with --no-resume.
   * Nothing already written is ever deleted.
   */
  private prepareExpDir(expDir: string, configText: string, resume: boolean): void {
    const used = join(expDir, 'config_used.yaml');
    if (existsSync(expDir) && readdirSync(expDir).length > 0) {
      if (!resume) {
        throw new UsageError(
          `--exp-dir ${expDir} already holds files and --no-resume was given: choose a new --exp-dir (nothing was changed)`,
        );
      }
      if (existsSync(used) && readFileSync(used, 'utf8') !== configText) {
        throw new UsageError(
          `--exp-dir ${expDir} holds a run with a different profile (${used}); resume it with the same options or choose a new --exp-dir (nothing was changed)`,
        );
      }
    }
    mkdirSync(expDir, { recursive: true });
    writeFileSync(used, configText);
  }
}
