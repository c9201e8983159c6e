import { describe, expect, it } from 'vitest';
import { bestIndex, sampleCount } from './searcher.js';

describe('sampleCount', () => {
  it('defaults to one sample and accepts positive integers', () => {
    expect(sampleCount({})).toBe(1);
    // `samples:` left empty in YAML is null: the default too.
    expect(sampleCount({ random: { samples: null } })).toBe(1);
    expect(sampleCount({ random: { samples: 4 } })).toBe(4);
  });

  it.each([0, -1, 1.5, '3', true])('refuses %j with exit code 2, naming the key', (bad) => {
    let err: any;
    try {
      sampleCount({ random: { samples: bad } });
    } catch (e) {
      err = e;
    }
    expect(err?.exitCode).toBe(2);
    expect(err?.message).toBe(
      `nas.search.random.samples: expected an integer >= 1, got ${JSON.stringify(bad)}`,
    );
  });
});

describe('bestIndex', () => {
  it('picks the highest score, the earliest on ties, and skips unscored samples', () => {
    expect(bestIndex([0.2, 0.7, 0.5])).toBe(1);
    expect(bestIndex([0.5, 0.7, 0.7])).toBe(1);
    expect(bestIndex([null, 0.1, null])).toBe(1);
    expect(bestIndex([null, null])).toBe(0);
  });
});
