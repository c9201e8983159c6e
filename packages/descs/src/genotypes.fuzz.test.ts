// Genotype strings as people paste them: every text parses to a valid genotype or throws
// DescError naming the source; a parsed genotype prints back to text that parses the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TIMEOUT_MS, fuzzLoader, fuzzParams, ownErrorNaming } from '../../../fuzz.shared.js';
import { DescError } from './errors.js';
import {
  DARTS_V1,
  DARTS_V2,
  genotypeToString,
  PDARTS,
  parseGenotype,
  validateGenotype,
} from './genotypes.js';

const SOURCE = '--genotype';
const VALID = [DARTS_V1, DARTS_V2, PDARTS].map(genotypeToString);

/** Tokens a genotype is made of, to build near-miss texts. */
const token = fc.constantFrom(
  'Genotype',
  '(',
  ')',
  '[',
  ']',
  ',',
  '=',
  'normal',
  'reduce',
  'normal_concat',
  'reduce_concat',
  'range',
  "'sep_conv_3x3'",
  '"max_pool_3x3"',
  "'",
  '0',
  '1',
  '-1',
  '99999999999999999999',
  '1e9',
  ' ',
  '\n',
  '\\',
);

const text = fc.oneof(
  fc.constantFrom(...VALID),
  fc
    .tuple(fc.constantFrom(...VALID), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([t, at]) => t.slice(0, Math.floor(at * t.length))),
  fc.tuple(fc.constantFrom(...VALID), fc.nat(), fc.nat(), token).map(([t, a, b, tok]) => {
    // Replace a stretch of the text with a token.
    const i = a % t.length;
    return t.slice(0, i) + tok + t.slice(Math.min(t.length, i + (b % 12)));
  }),
  fc.array(token, { maxLength: 40 }).map((tokens) => tokens.join('')),
  fc
    .tuple(fc.integer({ min: -5, max: 1e12 }), fc.integer({ min: -5, max: 1e12 }))
    .map(
      ([a, b]) =>
        `Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=range(${a}, ${b}), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=range(${b}))`,
    ),
  fc
    .integer({ min: 1, max: 5000 })
    .map((n) => `Genotype(normal=[${"('skip_connect', 0), ".repeat(n)}], normal_concat=[2]`),
  fc.integer({ min: 1, max: 20000 }).map((n) => `Genotype(normal=[('${'x'.repeat(n)}`),
  fc.string({ maxLength: 60 }),
);

function parseRoundTrip(t: string): void {
  const g = parseGenotype(t, SOURCE);
  validateGenotype(g, SOURCE);
  const again = genotypeToString(g);
  if (genotypeToString(parseGenotype(again, 'again')) !== again)
    throw new Error('printing changed the genotype');
}

describe('genotype parser under fuzzing', () => {
  it(
    'parses a valid genotype or throws DescError naming the source',
    async () => {
      await fuzzLoader(
        'genotype',
        ownErrorNaming(DescError, SOURCE),
        text,
        parseRoundTrip,
        fuzzParams(1501, 400),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it('refuses a huge range(...) without building it, and long texts in linear time', () => {
    const g = (concat: string) =>
      `Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], normal_concat=${concat}, reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1)], reduce_concat=[2])`;
    expect(() => parseGenotype(g('range(2, 1000000000000)'), SOURCE)).toThrow(
      /^--genotype:1:\d+: range\(2, 1000000000000\) has 999999999998 states/,
    );
    expect(parseGenotype(g('range(2, 3)'), SOURCE).normalConcat).toEqual([2]);
    const started = performance.now();
    expect(() => parseGenotype(`Genotype(normal=[${"('skip_connect', 0), ".repeat(50_000)}`, SOURCE)).toThrow(
      DescError,
    );
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
