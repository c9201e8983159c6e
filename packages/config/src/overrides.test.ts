import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeWrittenFiles, writeFiles, yaml } from './__tests__/tmpFiles.js';
import { resolveCopiesWithSources } from './copy.js';
import { ConfigError } from './errors.js';
import { loadConfigSync, parseProfile } from './load.js';
import { applyOverrides, castOverride, parseOverride, suggestKeyPaths } from './overrides.js';

afterAll(removeWrittenFiles);

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const PROFILE = yaml`
  common:
    seed: 2.0
    resume: true
    logdir: '~/logdir'
    redis: null
    apex: {seed: '_copy: /common/seed', gpus: ''}
  nas:
    search:
      model_desc:
        model_stems: {ops: [stem_conv3x3, stem_conv3x3], init_node_ch: 16}
      trainer:
        epochs: 50
        grad_clip: 5.0
        optimizer: {type: sgd, lr: 0.025, nesterov: false}
        lr_schedule: {type: cosine, warmup: null}
    eval:
      trainer:
        _copy: /nas/search/trainer
        epochs: 600
      loader: '_copy: /nas/search/model_desc'
`;

function load(overrides: string[]) {
  const dir = writeFiles({ 'p.yaml': PROFILE });
  return loadConfigSync(join(dir, 'p.yaml'), { overrides });
}

describe('parseOverride', () => {
  it('splits at the first =', () => {
    expect(parseOverride('a.b.c=x=y')).toEqual({ text: 'a.b.c=x=y', path: ['a', 'b', 'c'], value: 'x=y' });
    expect(parseOverride('--a.b=')).toEqual({ text: '--a.b=', path: ['a', 'b'], value: '' });
  });
  it('rejects malformed overrides', () => {
    expect(errorOf(() => parseOverride('a.b.c')).message).toContain('expected key.path=value');
    expect(errorOf(() => parseOverride('a..b=1')).message).toContain('empty segment');
  });
});

describe('castOverride', () => {
  it('casts to the type already there', () => {
    expect(castOverride(50, '3', 'k')).toBe(3);
    expect(castOverride(0.025, '1e-3', 'k')).toBe(0.001);
    expect(castOverride(2, ' -4.5 ', 'k')).toBe(-4.5);
    expect(castOverride(1, '.nan', 'k')).toBeNaN();
    expect(castOverride(1, '-inf', 'k')).toBe(-Infinity);
    for (const word of ['true', 'yes', 'on', '1', 'True']) expect(castOverride(false, word, 'k')).toBe(true);
    for (const word of ['false', 'no', 'off', '0', 'NO']) expect(castOverride(true, word, 'k')).toBe(false);
    expect(castOverride('x', '123', 'k')).toBe('123');
    expect(castOverride('x', 'null', 'k')).toBe('null');
    expect(castOverride(null, '3', 'k')).toBe(3);
    expect(castOverride(null, 'redis://h:6379', 'k')).toBe('redis://h:6379');
    expect(castOverride(null, '{a: 1}', 'k')).toEqual({ a: 1 });
    expect(castOverride(['a'], '[b, c]', 'k')).toEqual(['b', 'c']);
    expect(castOverride(['a'], '[1, 2.5]', 'k')).toEqual([1, 2.5]);
    expect(castOverride({ a: 1 }, '{multiplier: 1, epochs: 0}', 'k')).toEqual({ multiplier: 1, epochs: 0 });
    expect(castOverride({ a: 1 }, 'null', 'k')).toBeNull();
  });

  it('names the key, the value and the expected type when the cast fails', () => {
    const error = errorOf(() =>
      castOverride(50, 'abc', 'nas.search.trainer.epochs', 'nas.search.trainer.epochs=abc'),
    );
    expect(error.message).toBe(
      "override 'nas.search.trainer.epochs=abc': cannot set nas.search.trainer.epochs to 'abc': expected a number (its current value 50 is a number)",
    );
    expect(error.keyPath).toBe('nas.search.trainer.epochs');
    expect(error.exitCode).toBe(2);
    expect(errorOf(() => castOverride(true, 'maybe', 'k')).message).toContain('expected a boolean');
    expect(errorOf(() => castOverride(['a'], 'b', 'k')).message).toContain('expected a list');
    expect(errorOf(() => castOverride(['a'], '[b', 'k')).message).toContain('not valid YAML');
    expect(errorOf(() => castOverride({ a: 1 }, '[1]', 'k')).message).toContain('expected a mapping');
    expect(errorOf(() => castOverride(1, '', 'k')).message).toContain('expected a number');
  });
});

describe('overrides in loadConfig', () => {
  it('sets numbers, booleans, strings and lists', () => {
    const config = load([
      'nas.search.trainer.epochs=3',
      'common.resume=no',
      'common.logdir=/tmp/logs',
      'nas.search.model_desc.model_stems.ops=[stem_conv3x3]',
      'nas.search.trainer.optimizer.nesterov=yes',
    ]);
    expect(config.get('nas.search.trainer.epochs')).toBe(3);
    expect(config.get('common.resume')).toBe(false);
    expect(config.get('common.logdir')).toBe('/tmp/logs');
    expect(config.get('nas.search.model_desc.model_stems.ops')).toEqual(['stem_conv3x3']);
    expect(config.get('nas.search.trainer.optimizer.nesterov')).toBe(true);
    expect(config.locate('nas.search.trainer.epochs')).toEqual({
      file: '<override>',
      override: 'nas.search.trainer.epochs=3',
    });
  });

  it('overriding a copy source changes every place that copies it', () => {
    const config = load(['common.seed=3', 'nas.search.trainer.optimizer.lr=0.1']);
    expect(config.get('common.seed')).toBe(3);
    expect(config.get('common.apex.seed')).toBe(3);
    expect(config.get('nas.eval.trainer.optimizer.lr')).toBe(0.1);
    // The eval trainer keeps its own epochs.
    expect(config.get('nas.eval.trainer.epochs')).toBe(600);
    expect(config.locate('common.apex.seed')).toMatchObject({
      override: 'common.seed=3',
      copiedFrom: { keyPath: 'common.seed' },
    });
  });

  it('overrides a key that exists only through a node-form copy, leaving the source alone', () => {
    const config = load(['nas.eval.trainer.optimizer.lr=0.5', 'nas.eval.trainer.grad_clip=1']);
    expect(config.get('nas.eval.trainer.optimizer')).toEqual({ lr: 0.5, type: 'sgd', nesterov: false });
    expect(config.get('nas.eval.trainer.grad_clip')).toBe(1);
    expect(config.get('nas.search.trainer.optimizer.lr')).toBe(0.025);
    expect(config.get('nas.search.trainer.grad_clip')).toBe(5);
  });

  it('overrides a key below a value-form copy without changing the source', () => {
    const config = load(['nas.eval.loader.model_stems.init_node_ch=36']);
    expect(config.get('nas.eval.loader.model_stems')).toEqual({
      ops: ['stem_conv3x3', 'stem_conv3x3'],
      init_node_ch: 36,
    });
    expect(config.get('nas.search.model_desc.model_stems.init_node_ch')).toBe(16);
  });

  it('an override on a copying key replaces the copy', () => {
    const config = load(['common.apex.seed=9']);
    expect(config.get('common.apex.seed')).toBe(9);
    expect(config.get('common.seed')).toBe(2);
  });

  it('replaces null with a YAML value and a mapping with a flow mapping', () => {
    const config = load([
      'common.redis={host: h, port: 6379}',
      'nas.search.trainer.lr_schedule.warmup={multiplier: 1, epochs: 2}',
    ]);
    expect(config.get('common.redis')).toEqual({ host: 'h', port: 6379 });
    expect(config.get('nas.eval.trainer.lr_schedule.warmup')).toEqual({ multiplier: 1, epochs: 2 });
    expect(config.locate('common.redis.port')).toMatchObject({
      override: 'common.redis={host: h, port: 6379}',
    });
  });

  it('an unknown path is an error naming the path and the closest keys', () => {
    const error = errorOf(() => load(['nas.search.trainer.epoch=3']));
    expect(error.message).toBe(
      "override 'nas.search.trainer.epoch=3': unknown key nas.search.trainer.epoch: nas.search.trainer has no key 'epoch'. " +
        'Did you mean nas.search.trainer.epochs? Keys in nas.search.trainer: epochs, grad_clip, optimizer, lr_schedule',
    );
    expect(error.keyPath).toBe('nas.search.trainer.epoch');
    expect(error.exitCode).toBe(2);
  });

  it('suggests the full paths when a prefix was left out', () => {
    const error = errorOf(() => load(['trainer.optimizer.lr=0.1']));
    expect(error.message).toContain(
      'Did you mean nas.eval.trainer.optimizer.lr or nas.search.trainer.optimizer.lr?',
    );
    expect(error.message).toContain('Keys in the top level: common, nas');
  });

  it('refuses to go below a scalar', () => {
    const error = errorOf(() => load(['common.seed.x=1']));
    expect(error.message).toMatch(
      /common\.seed is a number \(2, set at .*p\.yaml:2:3\), so it has no key 'x'/,
    );
  });

  it('reports a bad cast with the key, value and type', () => {
    const error = errorOf(() => load(['common.resume=maybe']));
    expect(error.message).toContain("cannot set common.resume to 'maybe': expected a boolean");
  });
});

describe('applyOverrides', () => {
  it('checks paths against the resolved tree and writes the unresolved one, leaving inputs alone', () => {
    const { tree, sources } = parseProfile("a: {x: 1}\nb: {_copy: /a}\nc: '_copy: /a'\n", '/p.yaml');
    const resolved = resolveCopiesWithSources(tree, sources).tree;
    const before = JSON.stringify(tree);
    const out = applyOverrides(tree, resolved, ['b.x=2', 'c.x=3', 'a.x=4'], sources);
    expect(out.raw).toEqual({ a: { x: 4 }, b: { _copy: '/a', x: 2 }, c: { _copy: '/a', x: 3 } });
    expect(JSON.stringify(tree)).toBe(before);
    expect(out.sources.get('c._copy')).toMatchObject({ line: 3 });
  });
});

describe('suggestKeyPaths', () => {
  it('ranks close siblings first', () => {
    const tree = { trainer: { epochs: 1, epoch_size: 2, grad_clip: 3 } };
    expect(suggestKeyPaths(tree, ['trainer', 'epoch'])).toEqual(['trainer.epochs', 'trainer.epoch_size']);
    expect(suggestKeyPaths(tree, ['trainr', 'epochs'])).toEqual(['trainer.epochs']);
    expect(suggestKeyPaths(tree, ['zzz'])).toEqual([]);
  });
});
