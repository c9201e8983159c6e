// Hostile profiles: random and mangled YAML, include chains and cycles, `_copy` webs, deep nesting,
// alias bombs and bad overrides. Every input loads or throws ConfigError naming the file (or the
// override) at fault; no TypeError, RangeError or yaml error escapes, and nothing runs away.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  expectSurvived,
  FUZZ_TIMEOUT_MS,
  fuzzParams,
  FuzzTally,
  ownErrorNaming,
} from '../../../fuzz.shared.js';
import { ConfigError } from './errors.js';
import { loadConfigSync, parseProfile } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'config-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILES = ['a.yaml', 'b.yaml', 'c.yaml'] as const;
const KEYS = ['a', 'b', 'c', 'seed', 'nas', 'x.y', '_copy', '__include__', '__proto__', '', '0'];

const copyPath = fc
  .array(fc.constantFrom('a', 'b', 'c', 'seed', 'nas', '..', '.', '', 'missing'), { maxLength: 4 })
  .chain((parts) => fc.constantFrom(`/${parts.join('/')}`, parts.join('/')));

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
  copyPath.map((p) => `_copy: ${p}`),
  fc.constantFrom('$expdir/x', '$HOME/y', '~', '~/z', '$NOT_SET_ANYWHERE/a'),
);

const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('tree'), { maxKeys: 4 }),
    fc.record({ _copy: fc.oneof(copyPath, leaf) }),
  ),
}));

const include = fc.oneof(
  fc.constantFrom(
    ...FILES,
    './a.yaml',
    'missing.yaml',
    '$NOT_SET_ANYWHERE/a.yaml',
    '~',
    '.',
    '/',
    'pkg/file.yaml',
  ),
  fc.constantFrom('@tsnas/nope/x.yaml', 'yaml/package.json', 'fast-check/package.json'),
  fc.integer(),
  fc.array(fc.constantFrom(...FILES), { maxLength: 3 }),
);

/** One profile file: a random tree with maybe an include, written as YAML, maybe mangled. */
const fileText = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(tree, fc.option(include)).map(([t, inc]) => profileYaml(t, inc)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(tree, fc.option(include), fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([t, inc, at]) => {
        const text = profileYaml(t, inc);
        return text.slice(0, Math.floor(at * text.length));
      }),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        tree,
        fc.nat(),
        fc.constantFrom(':', '- ', '[', '{', '&a ', '*a', '!!python/object:x ', '\t', '"', '<<: '),
      )
      .map(([t, at, junk]) => {
        const text = profileYaml(t, null);
        const pos = at % (text.length + 1);
        return text.slice(0, pos) + junk + text.slice(pos);
      }),
  },
  { weight: 4, arbitrary: fc.string({ maxLength: 60 }) },
  // Rarer, heavier inputs: deep flow and block nesting, exponential alias expansion.
  fc.integer({ min: 1, max: 3000 }).map((depth) => `a: ${'['.repeat(depth)}${']'.repeat(depth)}\n`),
  fc
    .integer({ min: 1, max: 400 })
    .map(
      (depth) => `a:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(i + 1)}k:`).join('\n')} 1\n`,
    ),
  fc.integer({ min: 2, max: 10 }).map((n) => aliasBomb(n)),
);

function profileYaml(t: unknown, inc: unknown): string {
  const body = t !== null && typeof t === 'object' && !Array.isArray(t) ? { ...t } : { value: t };
  return stringify(inc === null || inc === undefined ? body : { __include__: inc, ...body });
}

/** Each level makes what an alias expands to four times larger: 10 levels, 2^19 values. */
function aliasBomb(levels: number): string {
  const lines = ['l0: &l0 [x, y]'];
  for (let i = 1; i < levels; i++)
    lines.push(`l${i}: &l${i} [*l${i - 1}, *l${i - 1}, *l${i - 1}, *l${i - 1}]`);
  return `${lines.join('\n')}\n`;
}

const override = fc.oneof(
  fc.constantFrom('a=1', 'a.b=x', 'seed=', '=3', 'a..b=1', 'nas.x=[1,', 'c={x: 1}', '--a=2', 'b=[1, 2]'),
  fc.constantFrom('seed=.nan', 'a._copy=/b', 'a=null', '__proto__.x=1', 'c.0=1'),
  fc
    .tuple(fc.constantFrom('a', 'b', 'c', 'seed', 'a.b', 'b.c'), fc.string({ maxLength: 8 }))
    .map(([k, v]) => `${k}=${v}`),
);

const profileSet = fc.record({
  files: fc.tuple(fileText, fileText, fileText),
  overrides: fc.array(override, { maxLength: 2 }),
});

function loadSet(input: { files: readonly string[]; overrides: string[] }): void {
  FILES.forEach((name, i) => {
    writeFileSync(join(dir, name), input.files[i]);
  });
  const loaded = loadConfigSync(['a.yaml'], { cwd: dir, overrides: input.overrides });
  // What a caller does next: read values and write the profile out again.
  JSON.stringify(loaded.tree);
  loaded.get('nas.search');
}

// An included package file is named by its own path (e.g. .../yaml/package.json: has no "nas" key).
const namesFileOrOverride = ownErrorNaming(
  ConfigError,
  ...FILES,
  'missing.yaml',
  'package.json',
  '<override>',
  'override ',
);

describe('profile loader under fuzzing', () => {
  it(
    'parses any text or throws ConfigError naming the file',
    async () => {
      const tally = new FuzzTally('profile-text', ownErrorNaming(ConfigError, 'fuzz.yaml'));
      await fc.assert(
        fc.asyncProperty(fileText, (text) => tally.run(text, (t) => parseProfile(t, 'fuzz.yaml'))),
        fuzzParams(1201, 200),
      );
      expectSurvived(tally);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'loads include chains, cycles, _copy and overrides or throws ConfigError naming the file',
    async () => {
      const tally = new FuzzTally('profile-files', namesFileOrOverride);
      await fc.assert(
        fc.asyncProperty(profileSet, (input) => tally.run(input, loadSet)),
        fuzzParams(1202, 200),
      );
      expectSurvived(tally);
    },
    FUZZ_TIMEOUT_MS,
  );

  it('refuses nesting too deep to walk, naming the file and line', () => {
    const nested = (depth: number) => `a: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    expect(() => parseProfile(nested(150), 'deep.yaml')).not.toThrow();
    expect(() => parseProfile(nested(300), 'deep.yaml')).toThrow(
      /^deep\.yaml:1:\d+: values nested more than 200 levels deep$/,
    );
    // Deeper than the YAML parser itself goes: still a ConfigError at a line of the file.
    const err = (() => {
      try {
        parseProfile(nested(20_000), 'deep.yaml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^deep\.yaml:1:\d+: /);
  });

  it('names the file of what the fuzzer found: an unknown variable in an include, an empty key', () => {
    writeFileSync(join(dir, 'inc.yaml'), 'seed: 1\n__include__: $NOT_SET_ANYWHERE/base.yaml\n');
    expect(() => loadConfigSync(['inc.yaml'], { cwd: dir })).toThrow(
      /inc\.yaml:2:\d+: __include__: unknown variable \$NOT_SET_ANYWHERE/,
    );
    expect(() => parseProfile('a:\n  "": {_copy: /a}\n', 'empty.yaml')).toThrow(
      /^empty\.yaml:2:3: empty mapping key$/,
    );
  });
});
