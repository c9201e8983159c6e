// One seeded random source for the whole library: weight initialisers, data order, dropout and
// drop-path masks all draw from it, so `seedEverything(s)` makes a run repeatable on one backend.
import seedrandom from 'seedrandom';

export interface RngState {
  seed: number;
  state: seedrandom.State.Alea;
}

export class SeededRng {
  private prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>;
  private spareNormal: number | null = null;

  constructor(
    readonly seed: number,
    state?: seedrandom.State.Alea,
  ) {
    this.prng = seedrandom.alea(String(seed), { state: state ?? true });
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng.double();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A 31-bit integer, for tfjs ops that take a `seed` argument. */
  nextSeed(): number {
    return this.prng.int32() >>> 1;
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** An independent stream derived from this seed and a label (e.g. 'data', 'init'). */
  fork(label: string): SeededRng {
    let h = 2166136261;
    for (const ch of `${this.seed}:${label}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    return new SeededRng(h >>> 0);
  }

  getState(): RngState {
    this.spareNormal = null;
    return { seed: this.seed, state: this.prng.state() };
  }

  static fromState(s: RngState): SeededRng {
    return new SeededRng(s.seed, s.state);
  }
}

let current = new SeededRng(0);
let nativeMathRandom: (() => number) | undefined;

export interface SeedOptions {
  /**
   * Also replace Math.random with a stream derived from the seed. tfjs's random ops
   * (randomNormal, randomUniform, dropout, util.shuffle ...) fall back to Math.random when no
   * `seed` argument is given; this makes such calls repeatable too. Off by default because it
   * changes Math.random for the whole process; a later call without it restores the original.
   */
  patchMathRandom?: boolean;
}

/** Seeds every random source the library uses. */
export function seedEverything(seed: number, options: SeedOptions = {}): SeededRng {
  current = new SeededRng(seed);
  if (options.patchMathRandom) {
    nativeMathRandom ??= Math.random;
    const stream = current.fork('Math.random');
    Math.random = () => stream.next();
  } else if (nativeMathRandom != null) {
    Math.random = nativeMathRandom;
    nativeMathRandom = undefined;
  }
  return current;
}

/** The library's current random source. */
export function globalRng(): SeededRng {
  return current;
}

export function setGlobalRng(rng: SeededRng): void {
  current = rng;
}
