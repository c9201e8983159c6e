// The RBF-kernel "covariance" of a node's op outputs (Archai §7.2): for every pair (i, j) of
// (edge, op) candidates, K[i][j] = mean over samples b of exp(-||f_i[b] - f_j[b]||^2 / (2 sigma^2)),
// with f the op's output flattened per sample. Archai keeps only the last batch's kernel (its
// running-average counter is never incremented) and indexes rows in a different order than it
// fills them; here the mean runs over every sample of every batch, and rows are looked up by
// (edge, primitive) only.
import * as tf from '@tensorflow/tfjs-core';

export interface OpKey {
  /** Index of the edge within its node (the DARTS builder's edge j reads state j). */
  edge: number;
  primitive: string;
}

export function opLabel(k: OpKey): string {
  return `e${k.edge}:${k.primitive}`;
}

/** Distances kept per node for the quantile report (a uniform subsample beyond this). */
const DISTANCE_SAMPLE_CAP = 20_000;

export const DISTANCE_QUANTILES = [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1] as const;

/** Quantiles (linear interpolation) of `values`, which it sorts in place. */
export function quantiles(values: number[], qs: readonly number[] = DISTANCE_QUANTILES): number[] {
  if (values.length === 0) return qs.map(() => Number.NaN);
  values.sort((a, b) => a - b);
  return qs.map((q) => {
    const pos = q * (values.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, values.length - 1);
    return values[lo] + (values[hi] - values[lo]) * (pos - lo);
  });
}

/** A kernel width, or `median`: per node, the median distance between its ops' outputs. */
export type SigmaSetting = number | 'median';

/**
 * The widths `sigma: median` accumulates side by side (2^-6 .. 2^14 in steps of sqrt 2), so that the
 * median distance, known only once the data has been seen, still needs a single pass: the kernel
 * used is the one whose width is nearest the median, within a factor 2^(1/4).
 */
export const MEDIAN_SIGMA_GRID: readonly number[] = Array.from({ length: 41 }, (_, g) => 2 ** ((g - 12) / 2));

/**
 * Accumulates one node's kernel over batches. Row i belongs to `keys[i]`; `rowOf` is the only way
 * rows are found, so nothing depends on the order in which ops are listed or ranked elsewhere.
 */
export class NodeKernel {
  readonly keys: readonly OpKey[];
  readonly sigmaSetting: SigmaSetting;
  private readonly rows = new Map<string, number>();
  /** The widths accumulated: [sigma], or MEDIAN_SIGMA_GRID. */
  private readonly widths: readonly number[];
  /** Per width, the sum over samples of the per-sample kernel (row-major n x n), float64. */
  private readonly sum: Float64Array;
  private count = 0;
  private readonly distances: number[] = [];
  private fixed: number[][] | null = null;

  constructor(keys: readonly OpKey[], sigma: SigmaSetting) {
    if (sigma !== 'median' && !(typeof sigma === 'number' && sigma > 0 && Number.isFinite(sigma))) {
      throw new Error(`NodeKernel: sigma must be a number > 0 or 'median', got ${String(sigma)}`);
    }
    this.sigmaSetting = sigma;
    this.widths = sigma === 'median' ? MEDIAN_SIGMA_GRID : [sigma];
    this.keys = keys.map((k) => ({ ...k }));
    this.keys.forEach((k, i) => {
      const label = opLabel(k);
      if (this.rows.has(label)) throw new Error(`NodeKernel: op ${label} listed twice`);
      this.rows.set(label, i);
    });
    this.sum = new Float64Array(this.widths.length * keys.length * keys.length);
  }

  /** A kernel with a given matrix (tests, or a kernel loaded from JSON). */
  static fromMatrix(keys: readonly OpKey[], matrix: number[][], sigma = 1, samples = 1): NodeKernel {
    const k = new NodeKernel(keys, sigma);
    if (matrix.length !== keys.length || matrix.some((r) => r.length !== keys.length)) {
      throw new Error(`NodeKernel.fromMatrix: expected a ${keys.length} x ${keys.length} matrix`);
    }
    k.fixed = matrix.map((r) => [...r]);
    k.count = samples;
    return k;
  }

  get size(): number {
    return this.keys.length;
  }

  /** Samples accumulated so far. */
  get samples(): number {
    return this.count;
  }

  /** The kernel width in use: the configured one, or with `median` the grid width nearest the median distance. */
  get sigma(): number {
    return this.widths[this.widthIndex()];
  }

  private widthIndex(): number {
    if (this.widths.length === 1) return 0;
    const median = quantiles([...this.distances], [0.5])[0];
    // All outputs equal (median 0) or no data: any width gives the same all-ones kernel.
    if (!(median > 0)) return 0;
    let best = 0;
    for (let g = 1; g < this.widths.length; g++) {
      if (Math.abs(Math.log(this.widths[g] / median)) < Math.abs(Math.log(this.widths[best] / median)))
        best = g;
    }
    return best;
  }

  rowOf(key: OpKey): number {
    const r = this.rows.get(opLabel(key));
    if (r === undefined) throw new Error(`NodeKernel: no row for op ${opLabel(key)}`);
    return r;
  }

  labels(): string[] {
    return this.keys.map(opLabel);
  }

  /**
   * Adds one batch: `features[i]` is the output of op `keys[i]` for the batch, any shape [B, ...]
   * (all the same). Runs in its own tidy scope and reads back only n x n numbers per width (plus a
   * capped sample of distances); no tensor outlives the call.
   */
  addBatch(features: readonly tf.Tensor[]): void {
    const n = this.keys.length;
    if (features.length !== n)
      throw new Error(`NodeKernel.addBatch: ${features.length} outputs for ${n} ops`);
    if (this.fixed) throw new Error('NodeKernel.addBatch: this kernel was given a fixed matrix');
    const b = features[0].shape[0];
    const g = this.widths.length;
    let kernelSum: ArrayLike<number> = [];
    let dist2: ArrayLike<number> | null = null;
    tf.tidy(() => {
      // [B, n, D]: per sample, the n ops' flattened outputs.
      const f = tf.stack(
        features.map((t) => tf.reshape(t, [b, -1])),
        1,
      ) as tf.Tensor3D;
      const gram = tf.matMul(f, f, false, true); // [B, n, n]
      const sq = tf.sum(tf.square(f), 2); // [B, n]
      // ||a - b||^2 = ||a||^2 + ||b||^2 - 2ab; clamp the float32 rounding below zero.
      const d2 = tf.relu(tf.sub(tf.add(tf.expandDims(sq, 2), tf.expandDims(sq, 1)), tf.mul(gram, 2)));
      // [G, 1, 1, 1] factors -1 / (2 sigma^2), one per width; the kernel sums are [G, n, n].
      const scale = tf.tensor4d(
        this.widths.map((s) => -1 / (2 * s * s)),
        [g, 1, 1, 1],
      );
      kernelSum = tf.sum(tf.exp(tf.mul(tf.expandDims(d2, 0), scale)), 1).dataSync();
      if (this.distances.length < DISTANCE_SAMPLE_CAP) dist2 = d2.dataSync();
    });
    for (let i = 0; i < kernelSum.length; i++) this.sum[i] += kernelSum[i];
    this.count += b;
    if (dist2) this.sampleDistances(dist2, b, n);
  }

  /** Keeps the first DISTANCE_SAMPLE_CAP off-diagonal distances (batches are shuffled samples). */
  private sampleDistances(dist2: ArrayLike<number>, b: number, n: number): void {
    for (let s = 0; s < b && this.distances.length < DISTANCE_SAMPLE_CAP; s++) {
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) this.distances.push(Math.sqrt(dist2[s * n * n + i * n + j]));
      }
    }
  }

  /** The mean kernel; the diagonal is exactly 1. */
  matrix(): number[][] {
    const n = this.keys.length;
    if (this.fixed) return this.fixed.map((r) => [...r]);
    if (this.count === 0) throw new Error('NodeKernel.matrix: no batch was added');
    const w = this.widthIndex();
    const sum = this.sum.subarray(w * n * n, (w + 1) * n * n);
    const out: number[][] = [];
    for (let i = 0; i < n; i++) {
      const row: number[] = [];
      for (let j = 0; j < n; j++) {
        // Symmetrise: the two triangles differ only by float32 rounding.
        row.push(i === j ? 1 : (sum[i * n + j] + sum[j * n + i]) / (2 * this.count));
      }
      out.push(row);
    }
    return out;
  }

  /** Quantiles (DISTANCE_QUANTILES) of the per-sample distances ||f_i[b] - f_j[b]||, i != j. */
  distanceQuantiles(): number[] {
    return quantiles([...this.distances]);
  }
}
