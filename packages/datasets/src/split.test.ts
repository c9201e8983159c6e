import { describe, expect, it } from 'vitest';
import { allocate, stratifiedSplit, stratifiedSubset } from './split.js';

// 3 classes of 60, 30 and 10 samples, interleaved.
function labels(): Uint8Array {
  const l: number[] = [];
  for (let i = 0; i < 60; i++) l.push(0);
  for (let i = 0; i < 30; i++) l.push(1);
  for (let i = 0; i < 10; i++) l.push(2);
  // deterministic interleave
  return Uint8Array.from(
    l
      .map((v, i) => ({ v, k: (i * 37) % 100 }))
      .sort((a, b) => a.k - b.k)
      .map((o) => o.v),
  );
}

const countBy = (lab: Uint8Array, idx: Int32Array) => {
  const c = [0, 0, 0];
  for (const i of idx) c[lab[i]]++;
  return c;
};

describe('allocate', () => {
  it('shares a total in proportion, by largest remainder', () => {
    expect(allocate([60, 30, 10], 50)).toEqual([30, 15, 5]);
    expect(allocate([5, 5, 5], 10)).toEqual([4, 3, 3]);
    expect(allocate([1, 1], 5)).toEqual([1, 1]);
    expect(allocate([3, 0, 7], 0)).toEqual([0, 0, 0]);
  });
});

describe('stratifiedSplit', () => {
  const lab = labels();

  it('keeps class proportions in both parts and partitions the samples', () => {
    const { train, val } = stratifiedSplit(lab, { valRatio: 0.2 });
    expect(val.length).toBe(20);
    expect(train.length).toBe(80);
    expect(countBy(lab, val)).toEqual([12, 6, 2]);
    expect(countBy(lab, train)).toEqual([48, 24, 8]);
    const all = new Set([...train, ...val]);
    expect(all.size).toBe(100);
    expect([...train].every((v, i, a) => i === 0 || a[i - 1] < v)).toBe(true);
  });

  it('is identical across runs with the default seed 0 and differs with another seed', () => {
    const a = stratifiedSplit(lab, { valRatio: 0.5 });
    const b = stratifiedSplit(lab, { valRatio: 0.5, seed: 0 });
    const c = stratifiedSplit(lab, { valRatio: 0.5, seed: 1 });
    expect(b).toEqual(a);
    expect(c.val).not.toEqual(a.val);
    expect(countBy(lab, c.val)).toEqual(countBy(lab, a.val));
  });

  it('val_fold picks disjoint validation slices', () => {
    const f0 = stratifiedSplit(lab, { valRatio: 0.5, fold: 0 });
    const f1 = stratifiedSplit(lab, { valRatio: 0.5, fold: 1 });
    expect(f1.val).toEqual(f0.train);
    expect(f1.train).toEqual(f0.val);
    expect(() => stratifiedSplit(lab, { valRatio: 0.5, fold: 2 })).toThrow(
      /val_fold must be an integer in \[0, 1\]/,
    );
  });

  it('val_ratio 0 keeps everything for training; bad ratios are config errors', () => {
    const s = stratifiedSplit(lab, { valRatio: 0 });
    expect(s.train.length).toBe(100);
    expect(s.val.length).toBe(0);
    for (const bad of [1, -0.1, Number.NaN]) {
      expect(() => stratifiedSplit(lab, { valRatio: bad })).toThrow(/val_ratio must be in \[0, 1\)/);
    }
  });

  it('val = ceil(ratio * n), as sklearn StratifiedShuffleSplit', () => {
    expect(stratifiedSplit(lab, { valRatio: 0.333 }).val.length).toBe(34);
    expect(stratifiedSplit(new Uint8Array(50000), { valRatio: 0.1 }).val.length).toBe(5000);
  });
});

describe('stratifiedSubset (max_batches)', () => {
  const lab = labels();
  const all = Int32Array.from({ length: 100 }, (_, i) => i);

  it('keeps max samples with class proportions, deterministically', () => {
    const s = stratifiedSubset(lab, all, 10);
    expect(s.length).toBe(10);
    expect(countBy(lab, s)).toEqual([6, 3, 1]);
    expect(stratifiedSubset(lab, all, 10)).toEqual(s);
    expect(stratifiedSubset(lab, all, 10, 7)).not.toEqual(s);
  });

  it('draws only from the given indices', () => {
    const { train } = stratifiedSplit(lab, { valRatio: 0.5 });
    const s = stratifiedSubset(lab, train, 20);
    const allowed = new Set(train);
    expect([...s].every((i) => allowed.has(i))).toBe(true);
    expect(countBy(lab, s)).toEqual([12, 6, 2]);
  });

  it('-1 or a limit above the size keeps all', () => {
    expect(stratifiedSubset(lab, all, -1)).toEqual(all);
    expect(stratifiedSubset(lab, all, 1000)).toEqual(all);
  });
});
