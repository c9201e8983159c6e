// Gaussian-process mutual information between a set of ops and the rest (Archai §7.2):
// I(A; V\A) = 1/2 * log(det S_A * det S_{V\A} / det S), with S an RBF-kernel "covariance" of op
// outputs. Determinants of 30-odd kernel rows under- or overflow quickly, so everything works in
// log-determinants from a float64 Cholesky factorisation (ml-matrix).
import { CholeskyDecomposition, Matrix } from 'ml-matrix';

export type SquareMatrix = readonly (readonly number[])[];

/** Smallest diagonal jitter tried when a kernel matrix is singular; grown tenfold up to MAX_JITTER. */
export const BASE_JITTER = 1e-9;
const MAX_JITTER = 1e-2;

function checkSquare(s: SquareMatrix, what: string): number {
  const n = s.length;
  s.forEach((row, i) => {
    if (row.length !== n) throw new Error(`${what}: row ${i} has ${row.length} entries, expected ${n}`);
  });
  return n;
}

/** The rows and columns `idx` of `s` (in that order). */
export function submatrix(s: SquareMatrix, idx: readonly number[]): number[][] {
  return idx.map((i) => idx.map((j) => s[i][j]));
}

/**
 * log det(s) by Cholesky; null when `s` is not (numerically) positive definite. The empty matrix
 * has determinant 1.
 */
export function logDetCholesky(s: SquareMatrix): number | null {
  const n = checkSquare(s, 'logDet');
  if (n === 0) return 0;
  // Average the two triangles: ml-matrix insists on exact symmetry.
  const sym = s.map((row, i) => row.map((v, j) => (v + s[j][i]) / 2));
  const chol = new CholeskyDecomposition(new Matrix(sym));
  if (!chol.isPositiveDefinite()) return null;
  const l = chol.lowerTriangularMatrix;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.log(l.get(i, i));
  return 2 * sum;
}

/**
 * `s + jitter * I` with the smallest jitter (BASE_JITTER * 10^k, or 0 when `s` is already positive
 * definite) that makes it positive definite, so that every principal submatrix is too. A kernel
 * matrix is positive semi-definite in exact arithmetic; two ops with identical outputs make it
 * singular, which the jitter resolves without changing any other entry.
 */
export function regularize(s: SquareMatrix): { matrix: number[][]; jitter: number } {
  const n = checkSquare(s, 'regularize');
  let jitter = 0;
  for (;;) {
    const m = s.map((row, i) => row.map((v, j) => (i === j ? v + jitter : v)));
    if (logDetCholesky(m) !== null) return { matrix: m, jitter };
    jitter = jitter === 0 ? BASE_JITTER : jitter * 10;
    if (jitter > MAX_JITTER) {
      throw new Error(
        `kernel matrix (${n} x ${n}) is not positive semi-definite even with a diagonal jitter of ${MAX_JITTER}`,
      );
    }
  }
}

function logDetOrThrow(s: SquareMatrix, what: string): number {
  const v = logDetCholesky(s);
  if (v === null) throw new Error(`${what} is not positive definite (regularize the kernel first)`);
  return v;
}

/**
 * I(A; V\A) for the index set `a` of the positive definite matrix `s` (V = all its indices), in
 * nats. `logDetS` may be passed when evaluating many subsets of the same matrix.
 */
export function mutualInformation(s: SquareMatrix, a: readonly number[], logDetS?: number): number {
  const n = checkSquare(s, 'mutualInformation');
  const inA = new Set(a);
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (!inA.has(i)) rest.push(i);
  const full = logDetS ?? logDetOrThrow(s, 'S');
  return 0.5 * (logDetOrThrow(submatrix(s, a), 'S_A') + logDetOrThrow(submatrix(s, rest), 'S_V\\A') - full);
}

/** Every k-subset of 0..n-1 in lexicographic order. */
export function* combinations(n: number, k: number): Generator<number[]> {
  if (k < 0 || k > n) return;
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield [...idx];
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
}

export interface BestSubset {
  /** Indices into the matrix, ascending. */
  subset: number[];
  /** I(A; V\A) of the subset, nats. */
  mi: number;
  /** The diagonal jitter added to make the matrix positive definite (0 if none was needed). */
  jitter: number;
}

/**
 * Archai's `compute_brute_force_sol`: the k-subset A of the matrix's indices maximising
 * I(A; V\A). Ties go to the lexicographically first subset, so the result is deterministic.
 */
export function bruteForceBestSubset(s: SquareMatrix, k: number): BestSubset {
  const n = checkSquare(s, 'bruteForceBestSubset');
  if (!Number.isInteger(k) || k < 1 || k > n) {
    throw new Error(`bruteForceBestSubset: k must be an integer in [1, ${n}], got ${k}`);
  }
  const { matrix, jitter } = regularize(s);
  const full = logDetOrThrow(matrix, 'S');
  let best: BestSubset | null = null;
  for (const a of combinations(n, k)) {
    const mi = mutualInformation(matrix, a, full);
    if (!best || mi > best.mi) best = { subset: a, mi, jitter };
  }
  return best!;
}
