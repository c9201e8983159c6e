import { describe, expect, it } from 'vitest';
import {
  bruteForceBestSubset,
  combinations,
  logDetCholesky,
  mutualInformation,
  regularize,
  submatrix,
} from './mi.js';

// det S = 1 + 2*0.9*0.1*0.2 - 0.81 - 0.01 - 0.04 = 0.176
const S3 = [
  [1, 0.9, 0.1],
  [0.9, 1, 0.2],
  [0.1, 0.2, 1],
];
const DET_S3 = 0.176;

// A chain 0 - 1 - 2 - 3 with correlations 0.5, 0.6, 0.3. Tridiagonal determinants by the
// continuant: 1, 1 - 0.25 = 0.75, 0.75 - 0.36 = 0.39, 0.39 - 0.09 * 0.75 = 0.3225.
const S4 = [
  [1, 0.5, 0, 0],
  [0.5, 1, 0.6, 0],
  [0, 0.6, 1, 0.3],
  [0, 0, 0.3, 1],
];
const DET_S4 = 0.3225;

describe('log-determinants', () => {
  it('matches hand-computed determinants', () => {
    expect(logDetCholesky(S3)).toBeCloseTo(Math.log(DET_S3), 12);
    expect(logDetCholesky(S4)).toBeCloseTo(Math.log(DET_S4), 12);
    expect(logDetCholesky([])).toBe(0);
    expect(logDetCholesky([[4]])).toBeCloseTo(Math.log(4), 12);
  });

  it('reports a singular or indefinite matrix as null', () => {
    expect(
      logDetCholesky([
        [1, 1],
        [1, 1],
      ]),
    ).toBeNull();
    expect(
      logDetCholesky([
        [1, 2],
        [2, 1],
      ]),
    ).toBeNull();
  });

  it('regularize adds the smallest jitter that makes a singular kernel positive definite', () => {
    expect(regularize(S3).jitter).toBe(0);
    const { matrix, jitter } = regularize([
      [1, 1],
      [1, 1],
    ]);
    expect(jitter).toBeGreaterThan(0);
    expect(jitter).toBeLessThanOrEqual(1e-6);
    expect(matrix[0][1]).toBe(1);
    expect(logDetCholesky(matrix)).not.toBeNull();
  });
});

describe('mutual information I(A; V\\A)', () => {
  it('equals 1/2 log(det S_A det S_rest / det S) on a 3x3 matrix', () => {
    expect(mutualInformation(S3, [0])).toBeCloseTo(0.5 * Math.log((1 - 0.04) / DET_S3), 12);
    expect(mutualInformation(S3, [1])).toBeCloseTo(0.5 * Math.log((1 - 0.01) / DET_S3), 12);
    expect(mutualInformation(S3, [2])).toBeCloseTo(0.5 * Math.log((1 - 0.81) / DET_S3), 12);
    // A two-element set: det S_{01} = 1 - 0.81, det S_{2} = 1.
    expect(mutualInformation(S3, [0, 1])).toBeCloseTo(0.5 * Math.log(0.19 / DET_S3), 12);
  });

  it('equals the formula on a 4x4 matrix', () => {
    // A = {0, 1}: det S_A = 0.75, rest {2, 3}: 1 - 0.09 = 0.91.
    expect(mutualInformation(S4, [0, 1])).toBeCloseTo(0.5 * Math.log((0.75 * 0.91) / DET_S4), 12);
    // A = {1, 3}: 0 - 1 - 2 - 3 split as {1, 3} | {0, 2}: both blocks are identities.
    expect(mutualInformation(S4, [1, 3])).toBeCloseTo(0.5 * Math.log(1 / DET_S4), 12);
    // A = {0, 3}: rest {1, 2}: 1 - 0.36.
    expect(mutualInformation(S4, [0, 3])).toBeCloseTo(0.5 * Math.log(0.64 / DET_S4), 12);
  });

  it('is zero for a set independent of the rest', () => {
    const s = [
      [1, 0, 0],
      [0, 1, 0.4],
      [0, 0.4, 1],
    ];
    expect(mutualInformation(s, [0])).toBeCloseTo(0, 12);
  });
});

describe('brute-force selection', () => {
  it('lists every k-subset once, in lexicographic order', () => {
    expect([...combinations(4, 2)]).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      [2, 3],
    ]);
    expect([...combinations(35, 2)].length).toBe(595);
    expect([...combinations(3, 0)]).toEqual([[]]);
  });

  it('picks the hand-computed best single op of a 3x3 matrix', () => {
    // I({i}) = 1/2 log(det S_rest / det S): the largest rest determinant is 0.99, for i = 1.
    const best = bruteForceBestSubset(S3, 1);
    expect(best.subset).toEqual([1]);
    expect(best.mi).toBeCloseTo(0.5 * Math.log(0.99 / DET_S3), 12);
  });

  it('picks the hand-computed best single op of the 4x4 chain', () => {
    // Rest determinants: without 0: chain 1-2-3 = 1 - 0.36 - 0.09 = 0.55; without 1: {0}, {2,3} =
    // 0.91; without 2: {0,1}, {3} = 0.75; without 3: chain 0-1-2 = 1 - 0.25 - 0.36 = 0.39.
    const best = bruteForceBestSubset(S4, 1);
    expect(best.subset).toEqual([1]);
    expect(best.mi).toBeCloseTo(0.5 * Math.log(0.91 / DET_S4), 12);
  });

  it('picks the two hubs of two independent stars', () => {
    // Star A: hub 0, leaves 1 2 3; star B: hub 4, leaves 5 6; all links 0.3. Splitting a star at its
    // hub gains 1/2 log(1 / (1 - L * 0.09)), more than at a leaf or between leaves.
    const n = 7;
    const s = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j): number => (i === j ? 1 : 0)),
    );
    for (const [a, b] of [
      [0, 1],
      [0, 2],
      [0, 3],
      [4, 5],
      [4, 6],
    ]) {
      s[a][b] = 0.3;
      s[b][a] = 0.3;
    }
    const best = bruteForceBestSubset(s, 2);
    expect(best.subset).toEqual([0, 4]);
    expect(best.mi).toBeCloseTo(0.5 * Math.log(1 / (1 - 3 * 0.09)) + 0.5 * Math.log(1 / (1 - 2 * 0.09)), 12);
  });

  it('submatrix takes rows and columns in the given order', () => {
    expect(submatrix(S3, [2, 0])).toEqual([
      [1, 0.1],
      [0.1, 1],
    ]);
  });
});
