import { SeededRng } from '@tsnas/backend';
import { DatasetError } from './errors.js';
import type { Labels } from './types.js';

/** Archai splits train/val with a fixed seed 0, so the split never changes between runs or epochs. */
export const SPLIT_SEED = 0;

/** Sample indices grouped by label, classes in ascending order, indices in the given order. */
export function indicesByClass(labels: Labels, indices?: ArrayLike<number>): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  const n = indices ? indices.length : labels.length;
  for (let k = 0; k < n; k++) {
    const i = indices ? indices[k] : k;
    const l = labels[i];
    let g = groups.get(l);
    if (!g) {
      g = [];
      groups.set(l, g);
    }
    g.push(i);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * Splits `total` among classes in proportion to `counts` (largest remainder; ties go to the larger
 * class, then the lower class), never giving a class more than it has.
 */
export function allocate(counts: number[], total: number): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum === 0 || total <= 0) return counts.map(() => 0);
  const t = Math.min(total, sum);
  const exact = counts.map((c) => (c * t) / sum);
  const out = exact.map((e) => Math.floor(e));
  let left = t - out.reduce((a, b) => a + b, 0);
  const order = counts
    .map((c, k) => ({ k, frac: exact[k] - out[k], c }))
    .sort((a, b) => b.frac - a.frac || b.c - a.c || a.k - b.k);
  for (const { k } of order) {
    if (left === 0) break;
    if (out[k] < counts[k]) {
      out[k]++;
      left--;
    }
  }
  return out;
}

function sorted(values: number[]): Int32Array {
  return Int32Array.from(values).sort();
}

export interface StratifiedSplitOptions {
  /** Fraction of samples that go to validation, 0 <= valRatio < 1. */
  valRatio: number;
  /** Seed of the per-class shuffles (default 0, as Archai). */
  seed?: number;
  /**
   * Which slice of each class's shuffled samples is validation: fold f takes positions
   * [f*v, (f+1)*v) of v per class, so folds 0..floor(1/valRatio)-1 are disjoint.
   */
  fold?: number;
  /** Restrict the split to these sample indices (default: all). */
  indices?: ArrayLike<number>;
}

/**
 * A stratified train/validation split: ceil(valRatio * n) validation samples shared among classes
 * in proportion to their sizes. Deterministic in (labels, valRatio, seed, fold); both index lists
 * come back sorted ascending.
 */
export function stratifiedSplit(
  labels: Labels,
  opts: StratifiedSplitOptions,
): { train: Int32Array; val: Int32Array } {
  const { valRatio, seed = SPLIT_SEED, fold = 0 } = opts;
  if (!(valRatio >= 0 && valRatio < 1)) {
    throw new DatasetError('E_CONFIG', `val_ratio must be in [0, 1), got ${valRatio}.`);
  }
  if (!Number.isInteger(fold) || fold < 0 || (fold + 1) * valRatio > 1 + 1e-9) {
    throw new DatasetError(
      'E_CONFIG',
      `val_fold must be an integer in [0, ${Math.max(0, Math.floor(1 / valRatio + 1e-9) - 1)}] for val_ratio ${valRatio}, got ${fold}.`,
    );
  }
  const groups = indicesByClass(labels, opts.indices);
  const all = [...groups.values()];
  const n = all.reduce((a, g) => a + g.length, 0);
  // Subtract a hair so that e.g. 0.1 * 50000 is not lifted to 5001 by rounding error.
  const nVal = Math.ceil(valRatio * n - 1e-9);
  const perClass = allocate(
    all.map((g) => g.length),
    nVal,
  );
  const rng = new SeededRng(seed);
  const train: number[] = [];
  const val: number[] = [];
  all.forEach((g, k) => {
    const shuffled = rng.shuffle(g.slice());
    const v = perClass[k];
    const lo = Math.min(fold * v, shuffled.length - v);
    for (let i = 0; i < shuffled.length; i++) (i >= lo && i < lo + v ? val : train).push(shuffled[i]);
  });
  return { train: sorted(train), val: sorted(val) };
}

/**
 * Keeps at most `maxSamples` of `indices`, drawn per class in proportion to class sizes (Archai's
 * `max_batches * batch` limit). maxSamples < 0 keeps all. The result is sorted ascending.
 */
export function stratifiedSubset(
  labels: Labels,
  indices: ArrayLike<number>,
  maxSamples: number,
  seed = SPLIT_SEED,
): Int32Array {
  if (maxSamples < 0 || maxSamples >= indices.length) return Int32Array.from(indices);
  const groups = [...indicesByClass(labels, indices).values()];
  const perClass = allocate(
    groups.map((g) => g.length),
    maxSamples,
  );
  const rng = new SeededRng(seed);
  const kept: number[] = [];
  groups.forEach((g, k) => {
    kept.push(...rng.shuffle(g.slice()).slice(0, perClass[k]));
  });
  return sorted(kept);
}
