// Reads an experiment folder (DESIGN.md "experiment folder") into what the report shows. A crashed
// run is still worth seeing: missing files are noted, lines a crash cut short are skipped, and only a
// folder with nothing of an experiment in it is an error.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ReportError } from './errors.js';

/** One `type: "epoch"` line of metrics.jsonl (fractions in 0..1). */
export interface EpochPoint {
  epoch: number;
  lr: number;
  train: { top1: number; loss: number };
  val?: { top1: number; loss: number };
}

/** One `type: "step"` line of metrics.jsonl (written every `logger_freq` steps). */
export interface StepPoint {
  epoch: number;
  step: number;
  steps: number;
  lr: number;
  loss: number;
  top1: number;
}

export interface PhaseCurves {
  epochs: EpochPoint[];
  steps: StepPoint[];
  test: { top1: number; top5: number; loss: number } | null;
}

/** One line of search/alphas.jsonl: softmax weights per edge after a search epoch. */
export interface AlphaSnapshot {
  epoch: number;
  genotype: string | null;
  edges: {
    cell: number;
    cell_type: string;
    node: number;
    inputs: number[];
    weights: Record<string, number>;
  }[];
}

export interface KernelMap {
  name: string;
  svg: string;
  chosen: string[] | null;
}

export interface RandomSample {
  sample: number;
  genotype: string;
  best_val_top1: number | null;
  best_train_top1: number | null;
  params: number | null;
  seconds: number | null;
}

export interface Experiment {
  dir: string;
  name: string;
  /** summary.json, or null for a run that has not finished (or crashed). */
  summary: Record<string, any> | null;
  /** Selected settings of config_used.yaml. */
  config: { algo: string | null; dataset: string | null; seed: number | null; profile: string | null };
  search: PhaseCurves | null;
  postTrain: PhaseCurves | null;
  eval: PhaseCurves | null;
  alphas: AlphaSnapshot[];
  cells: { normal: string | null; reduce: string | null };
  kernels: KernelMap[];
  samples: RandomSample[] | null;
  /** What was missing or unreadable, in words, for the page's notes. */
  notes: string[];
}

function readJsonLines(file: string, notes: string[]): any[] {
  const rows: any[] = [];
  let bad = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line));
    } catch {
      bad += 1;
    }
  }
  if (bad > 0) notes.push(`${file}: ${bad} unreadable line(s) skipped (a run that stopped mid-write?)`);
  return rows;
}

function readCurves(file: string, notes: string[]): PhaseCurves | null {
  if (!existsSync(file)) return null;
  const rows = readJsonLines(file, notes);
  // A resumed run may log an epoch twice; the last line of an epoch is the one that counted.
  const epochs = new Map<number, EpochPoint>();
  const steps = new Map<string, StepPoint>();
  let test: PhaseCurves['test'] = null;
  for (const r of rows) {
    if (r?.type === 'epoch' && typeof r.epoch === 'number' && r.train) epochs.set(r.epoch, r);
    else if (r?.type === 'step' && typeof r.epoch === 'number') steps.set(`${r.epoch}:${r.step}`, r);
    else if (r?.type === 'test' && r.test) test = r.test;
  }
  const byEpoch = (a: { epoch: number }, b: { epoch: number }) => a.epoch - b.epoch;
  return {
    epochs: [...epochs.values()].sort(byEpoch),
    steps: [...steps.values()].sort((a, b) => a.epoch - b.epoch || a.step - b.step),
    test,
  };
}

function readText(file: string): string | null {
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}

function readJson(file: string, notes: string[]): any {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    notes.push(`${file}: not valid JSON (${(e as Error).message})`);
    return null;
  }
}

function readConfig(file: string, notes: string[]): Experiment['config'] {
  const none = { algo: null, dataset: null, seed: null, profile: null };
  if (!existsSync(file)) return none;
  try {
    const conf = parseYaml(readFileSync(file, 'utf8')) as any;
    return {
      algo: null,
      dataset: conf?.dataset?.name ?? null,
      seed: typeof conf?.common?.seed === 'number' ? conf.common.seed : null,
      profile: null,
    };
  } catch (e) {
    notes.push(`${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
    return none;
  }
}

/** Every cell_<c>_node_<n>.svg of a DivNAS search, with the ops its finalizer chose. */
function readKernels(dir: string, notes: string[]): KernelMap[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.svg'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((f) => {
      const base = f.slice(0, -4);
      const json = readJson(join(dir, `${base}.json`), notes);
      return { name: base, svg: readFileSync(join(dir, f), 'utf8'), chosen: json?.chosen ?? null };
    });
}

const MARKERS = ['summary.json', 'config_used.yaml', 'search', 'eval'];

/**
 * Reads what there is of an experiment. Throws ReportError (exit 2) when `dir` is not a folder or
 * holds none of summary.json, config_used.yaml, search/ and eval/.
 */
export function readExperiment(dir: string): Experiment {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new ReportError(`${dir}: no such folder`);
  if (!statSync(abs).isDirectory())
    throw new ReportError(`${dir}: not a folder (expected an experiment folder)`);
  if (!MARKERS.some((m) => existsSync(join(abs, m)))) {
    throw new ReportError(
      `${dir}: not an experiment folder (it has none of ${MARKERS.join(', ')}; runs are under runs/ by default)`,
    );
  }
  const notes: string[] = [];
  const summary = readJson(join(abs, 'summary.json'), notes);
  if (!summary)
    notes.push('summary.json is missing: the run has not finished (or stopped early); showing what it wrote');
  const config = readConfig(join(abs, 'config_used.yaml'), notes);
  if (summary?.profile) config.profile = summary.profile;
  const alphaRows = existsSync(join(abs, 'search', 'alphas.jsonl'))
    ? readJsonLines(join(abs, 'search', 'alphas.jsonl'), notes)
    : [];
  const alphas = new Map<number, AlphaSnapshot>();
  for (const r of alphaRows)
    if (typeof r?.epoch === 'number' && Array.isArray(r.edges)) alphas.set(r.epoch, r);
  const samples = readJson(join(abs, 'search', 'samples.json'), notes);
  return {
    dir: abs,
    name: basename(abs),
    summary,
    config,
    search: readCurves(join(abs, 'search', 'metrics.jsonl'), notes),
    postTrain: readCurves(join(abs, 'search', 'post_train', 'metrics.jsonl'), notes),
    eval: readCurves(join(abs, 'eval', 'metrics.jsonl'), notes),
    alphas: [...alphas.values()].sort((a, b) => a.epoch - b.epoch),
    cells: {
      normal: readText(join(abs, 'cells', 'normal.svg')),
      reduce: readText(join(abs, 'cells', 'reduce.svg')),
    },
    kernels: readKernels(join(abs, 'search', 'kernels'), notes),
    samples: Array.isArray(samples?.rows) ? samples.rows : null,
    notes,
  };
}
