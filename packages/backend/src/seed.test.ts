import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { globalRng, SeededRng, seedEverything } from './seed.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => {
  seedEverything(0); // restores Math.random
});

describe('seedEverything', () => {
  it('makes the library stream repeatable', () => {
    const a = [seedEverything(7).next(), globalRng().next()];
    const b = [seedEverything(7).next(), globalRng().next()];
    expect(a).toEqual(b);
    expect(seedEverything(8).next()).not.toBe(a[0]);
  });

  it('with patchMathRandom, makes unseeded tfjs random ops repeatable, and can be undone', () => {
    const native = Math.random;
    const draw = () => Array.from(tf.tidy(() => tf.randomNormal([4]).dataSync()));
    seedEverything(3, { patchMathRandom: true });
    expect(Math.random).not.toBe(native);
    const first = draw();
    seedEverything(3, { patchMathRandom: true });
    expect(draw()).toEqual(first);
    seedEverything(4, { patchMathRandom: true });
    expect(draw()).not.toEqual(first);
    seedEverything(3);
    expect(Math.random).toBe(native);
  });

  it('round-trips its state', () => {
    const rng = new SeededRng(11);
    rng.next();
    const copy = SeededRng.fromState(rng.getState());
    expect(copy.next()).toBe(rng.next());
  });
});
