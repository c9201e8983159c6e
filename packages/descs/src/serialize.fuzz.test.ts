// Damaged desc files, ours (YAML and JSON) and Archai's: every input loads or throws DescError
// naming the file; a desc that loads can be written out and read back to the same text.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { stringify } from 'yaml';
import { FUZZ_TIMEOUT_MS, fuzzLoader, fuzzParams, ownErrorNaming } from '../../../fuzz.shared.js';
import { dartsEvalConf } from './__tests__/fixtures.js';
import { ModelDescBuilder } from './builder.js';
import { DescError } from './errors.js';
import { DARTS_V2, genotypeToTemplate } from './genotypes.js';
import { modelDescFromJSON, modelDescFromYaml, modelDescToObject, modelDescToYaml } from './serialize.js';

const FILE = 'fuzz_model_desc.yaml';

// A small evaluation desc (3 cells: normal, reduction, normal) keeps each input fast.
const conf = dartsEvalConf({ n_cells: 3, n_reductions: 1 });
const plain = modelDescToObject(new ModelDescBuilder().build(conf, genotypeToTemplate(DARTS_V2, conf)));

/** Every path in a plain-data tree, to aim an edit at any part of the desc. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}
const PATHS = paths(plain);

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    1e12,
    -1,
    0,
    0.5,
    2 ** 53,
    Number.MAX_VALUE,
    '',
    'nan',
    'reduce',
    'sep_conv_3x3',
    null,
    true,
  ),
  fc.constantFrom([], {}, [1e12, 1e12, 1e12], [-1], ['a'], { ch_in: -5, ch_out: 1e12 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.integer({ min: 1, max: 500 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth))),
);

/** A structured edit: set, delete or duplicate the value at some path of the desc. */
const editedPlain = fc
  .record({ at: fc.nat(), how: fc.constantFrom('set', 'delete', 'duplicate'), value: nastyValue })
  .map(({ at, how, value }) => {
    const doc = structuredClone(plain) as unknown as Record<string, unknown>;
    const path = PATHS[at % PATHS.length];
    if (path.length === 0) return value;
    let parent: any = doc;
    for (const key of path.slice(0, -1)) parent = parent[key];
    const key = path[path.length - 1];
    if (how === 'set') parent[key] = value;
    else if (how === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else if (Array.isArray(parent)) parent.push(structuredClone(parent[key as number]));
    else parent[key] = structuredClone(doc);
    return doc;
  });

/** Text-level damage: cut off, bytes flipped, a chunk of junk spliced in. */
function textDamage(source: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(source, fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([t, at]) => t.slice(0, Math.floor(at * t.length))),
    fc
      .tuple(
        source,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 3 }),
      )
      .map(([t, flips]) => {
        const chars = [...t];
        for (const [pos, bit] of flips) {
          const i = pos % chars.length;
          chars[i] = String.fromCharCode(chars[i].charCodeAt(0) ^ (1 << bit));
        }
        return chars.join('');
      }),
    fc
      .tuple(
        source,
        fc.nat(),
        fc.constantFrom(
          '\n- ',
          ': ',
          '{',
          '&id009 ',
          '*id001',
          '*nope',
          '!!python/object:os.system ',
          '!!binary x',
          '\t',
        ),
      )
      .map(([t, pos, junk]) => {
        const i = pos % (t.length + 1);
        return t.slice(0, i) + junk + t.slice(i);
      }),
  );
}

const ourYaml = fc.oneof(
  { weight: 3, arbitrary: editedPlain.map((d) => stringify(d)) },
  {
    weight: 2,
    arbitrary: textDamage(
      fc.constant(modelDescToYaml(new ModelDescBuilder().build(conf, genotypeToTemplate(DARTS_V2, conf)))),
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
);
const ourJson = fc.oneof(
  { weight: 3, arbitrary: editedPlain.map((d) => JSON.stringify(d)) },
  { weight: 2, arbitrary: textDamage(fc.constant(JSON.stringify(plain))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
);

const ARCHAI_DIR = join(import.meta.dirname, '__tests__', 'fixtures', 'archai');
const archaiTexts = ['toy_legacy_final_model_desc.yaml', 'toy_eval_full_model_desc.yaml'].map((f) =>
  readFileSync(join(ARCHAI_DIR, f), 'utf8'),
);
const archaiYaml = textDamage(fc.constantFrom(...archaiTexts));

/** Loads, then writes the desc out and reads it back: what `nas desc` and a resumed run do. */
function loadYamlRoundTrip(text: string): void {
  const desc = modelDescFromYaml(text, FILE);
  const again = modelDescToYaml(desc);
  if (modelDescToYaml(modelDescFromYaml(again, 'again.yaml')) !== again)
    throw new Error('round trip changed the desc');
}

function loadJsonRoundTrip(text: string): void {
  const desc = modelDescFromJSON(text, 'fuzz_model_desc.json');
  modelDescToYaml(desc);
}

describe('desc readers under fuzzing', () => {
  it(
    'tsnas YAML descs load or throw DescError naming the file',
    async () => {
      await fuzzLoader(
        'desc-yaml',
        ownErrorNaming(DescError, FILE),
        ourYaml,
        loadYamlRoundTrip,
        fuzzParams(1401, 150),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'tsnas JSON descs load or throw DescError naming the file',
    async () => {
      await fuzzLoader(
        'desc-json',
        ownErrorNaming(DescError, 'fuzz_model_desc.json'),
        ourJson,
        loadJsonRoundTrip,
        fuzzParams(1402, 200),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    "Archai's python-object descs load or throw DescError naming the file",
    async () => {
      await fuzzLoader(
        'desc-archai',
        ownErrorNaming(DescError, FILE),
        archaiYaml,
        loadYamlRoundTrip,
        fuzzParams(1403, 100),
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
