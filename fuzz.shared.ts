// Shared by the `*.fuzz.test.ts` suites: runs one loader on generated inputs and sorts each outcome
// into loaded, rejected (the package's own error, naming the file) or crashed (anything else, or too
// slow). In the test suite a crash fails the property at once, so fast-check shrinks it and prints
// the seed; `pnpm fuzz` (scripts/fuzz.mjs) sets TSNAS_FUZZ_RUNS and TSNAS_FUZZ_REPORT to run many
// more inputs, count every crash and append one JSON line of counts per loader to the report file.
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';

/** Where `pnpm fuzz` collects counts; unset in the ordinary test suite. */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by scripts/fuzz.mjs, which runs vitest itself, not through turbo
const REPORT = process.env.TSNAS_FUZZ_REPORT;

/** Inputs per loader: `testRuns` in the test suite, TSNAS_FUZZ_RUNS under `pnpm fuzz`. */
export function fuzzRuns(testRuns: number): number {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: set by scripts/fuzz.mjs, which runs vitest itself, not through turbo
  const env = Number(process.env.TSNAS_FUZZ_RUNS);
  return Number.isInteger(env) && env > 0 ? env : testRuns;
}

/** The fast-check parameters every fuzz suite uses: a fixed seed, so a failure reproduces. */
export function fuzzParams(seed: number, testRuns: number) {
  // Under `pnpm fuzz`, stop shrinking: the first failure is enough, and counts stay exact.
  return { seed, numRuns: fuzzRuns(testRuns), endOnFailure: REPORT !== undefined };
}

/** A vitest timeout for one fuzz test: generous under `pnpm fuzz`, which runs thousands of inputs. */
export const FUZZ_TIMEOUT_MS = REPORT === undefined ? 60_000 : 3_600_000;

/** One input should take well under this; more means a hang or runaway work on a small file. */
const SLOW_MS = 5_000;

export interface FuzzCrash {
  input: string;
  error: string;
}

/** A short, printable picture of an input for crash reports. */
function show(input: unknown): string {
  let text: string;
  if (input instanceof Uint8Array) {
    text = `${input.length} bytes: ${Buffer.from(input.subarray(0, 96)).toString('hex')}`;
  } else if (typeof input === 'string') text = JSON.stringify(input);
  else {
    try {
      text = JSON.stringify(input, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
    } catch {
      text = String(input);
    }
  }
  return text.length > 400 ? `${text.slice(0, 400)}...` : text;
}

/** Counts the outcomes of one loader and decides what a crash is. */
export class FuzzTally {
  inputs = 0;
  loaded = 0;
  rejected = 0;
  slowestMs = 0;
  readonly crashes: FuzzCrash[] = [];

  /**
   * @param loader name in the report
   * @param isRejection true for an error the loader may throw for this input: the package's own
   *   error type with a message naming the file
   */
  constructor(
    readonly loader: string,
    private readonly isRejection: (error: unknown) => boolean,
  ) {}

  /** Runs `load` on `input` and counts the outcome; a crash throws (test suite) or is recorded. */
  async run<T>(input: T, load: (input: T) => unknown): Promise<void> {
    this.inputs++;
    const started = performance.now();
    let failure: string | undefined;
    try {
      await load(input);
      this.loaded++;
    } catch (error) {
      if (this.isRejection(error)) this.rejected++;
      else failure = error instanceof Error ? `${error.name}: ${error.message}` : `threw ${String(error)}`;
    }
    const ms = performance.now() - started;
    this.slowestMs = Math.max(this.slowestMs, ms);
    if (failure === undefined && ms > SLOW_MS) failure = `took ${Math.round(ms)} ms`;
    if (failure === undefined) return;
    const crash = { input: show(input), error: failure.slice(0, 600) };
    this.crashes.push(crash);
    if (REPORT === undefined)
      throw new Error(`${this.loader} crashed: ${crash.error}\n  input: ${crash.input}`);
  }

  /** Under `pnpm fuzz`, appends this loader's counts to the report file. */
  report(): void {
    if (REPORT === undefined) return;
    const line = {
      loader: this.loader,
      inputs: this.inputs,
      loaded: this.loaded,
      rejected: this.rejected,
      crashes: this.crashes.length,
      slowest_ms: Math.round(this.slowestMs),
      examples: this.crashes.slice(0, 3),
    };
    appendFileSync(REPORT, `${JSON.stringify(line)}\n`);
  }
}

/** An error of class `type` whose message contains one of `names` (a file, a source). */
export function ownErrorNaming(
  type: abstract new (...args: any[]) => Error,
  ...names: string[]
): (error: unknown) => boolean {
  return (error) => error instanceof type && names.some((name) => error.message.includes(name));
}

/**
 * After a fuzz run: the counts reported, no crash, and both outcomes seen (so the inputs reached
 * the loader's checks as well as its success path).
 */
export function expectSurvived(tally: FuzzTally): void {
  tally.report();
  expect(tally.crashes).toEqual([]);
  expect(tally.loaded).toBeGreaterThan(0);
  expect(tally.rejected).toBeGreaterThan(0);
}

/** The common case: one loader run on every input of one arbitrary. */
export async function fuzzLoader<T>(
  name: string,
  isOwnError: (error: unknown) => boolean,
  inputs: fc.Arbitrary<T>,
  load: (input: T) => unknown,
  params: ReturnType<typeof fuzzParams>,
): Promise<FuzzTally> {
  const tally = new FuzzTally(name, isOwnError);
  await fc.assert(
    fc.asyncProperty(inputs, (input) => tally.run(input, load)),
    params,
  );
  expectSurvived(tally);
  return tally;
}
