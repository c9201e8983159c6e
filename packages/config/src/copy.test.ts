import { describe, expect, it } from 'vitest';
import { resolveCopies, resolveCopiesWithSources, resolveCopyPath } from './copy.js';
import { ConfigError } from './errors.js';
import { parseProfile } from './load.js';
import type { ConfigTree } from './tree.js';

function resolveText(text: string) {
  const { tree, sources } = parseProfile(text, '/p/profile.yaml');
  return resolveCopiesWithSources(tree, sources);
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveCopyPath (Archai _rel2full_path)', () => {
  it('resolves absolute and relative paths', () => {
    expect(resolveCopyPath(['nas', 'eval', 'loader', 'test_workers'], '../train_workers')).toEqual([
      'nas',
      'eval',
      'loader',
      'train_workers',
    ]);
    expect(resolveCopyPath(['a', 'b'], '/common/seed')).toEqual(['common', 'seed']);
    expect(resolveCopyPath(['a', 'b'], './c/./d')).toEqual(['a', 'b', 'c', 'd']);
    expect(resolveCopyPath(['a', 'b'], '../../x')).toEqual(['x']);
    expect(resolveCopyPath([], '/')).toEqual([]);
    expect(resolveCopyPath(['a'], '../../x')).toEqual({ aboveRoot: true });
  });
});

describe('node form', () => {
  it('copies only the keys the node lacks; local keys win, nested mappings merge', () => {
    const { tree } = resolveText(`
nas:
  search:
    trainer: {title: arch_train, epochs: 50, optimizer: {type: sgd, lr: 0.025, momentum: 0.9}}
  post_train:
    trainer:
      _copy: /nas/search/trainer
      title: post_train
      epochs: 0
      optimizer: {lr: 0.1}
`);
    expect((tree.nas as ConfigTree).post_train).toEqual({
      trainer: { title: 'post_train', epochs: 0, optimizer: { lr: 0.1, type: 'sgd', momentum: 0.9 } },
    });
    // The source stays as it was.
    expect((tree.nas as ConfigTree).search).toEqual({
      trainer: { title: 'arch_train', epochs: 50, optimizer: { type: 'sgd', lr: 0.025, momentum: 0.9 } },
    });
  });

  it('resolves a relative node path from the mapping itself', () => {
    const { tree } = resolveText(`
nas:
  trainer: {apex: {enabled: false, gpus: ''}}
  eval:
    trainer:
      apex: {_copy: '../../../trainer/apex', enabled: true}
`);
    expect(tree.nas).toEqual({
      trainer: { apex: { enabled: false, gpus: '' } },
      eval: { trainer: { apex: { enabled: true, gpus: '' } } },
    });
  });

  it('needs a mapping as target', () => {
    const error = errorOf(() => resolveText('common: {seed: 2}\nx:\n  _copy: /common/seed\n'));
    expect(error.message).toContain('/common/seed must be a mapping, but it is a number');
    expect(error).toMatchObject({ keyPath: 'x._copy', line: 3, file: '/p/profile.yaml' });
  });

  it('lets _copy: null switch an inherited copy off', () => {
    const { tree } = resolveText('a: {x: 1}\nb: {_copy: null, y: 2}\n');
    expect(tree.b).toEqual({ y: 2 });
  });
});

describe('value form', () => {
  it('replaces the value with the scalar or subtree at the path', () => {
    const { tree } = resolveText(`
common:
  seed: 2.0
  checkpoint: {filename: '$expdir/checkpoint.json', freq: 10}
  apex: {seed: '_copy: /common/seed'}
nas:
  eval:
    checkpoint: '_copy: /common/checkpoint'
    loader: {train_workers: 4, test_workers: '_copy: ../train_workers'}
`);
    expect(tree.common).toMatchObject({ apex: { seed: 2 } });
    expect(tree.nas).toEqual({
      eval: {
        checkpoint: { filename: '$expdir/checkpoint.json', freq: 10 },
        loader: { train_workers: 4, test_workers: 4 },
      },
    });
    // A copy, not a shared object.
    const nas = tree.nas as ConfigTree;
    expect((nas.eval as ConfigTree).checkpoint).not.toBe((tree.common as ConfigTree).checkpoint);
  });

  it('follows chains of copies in either order of keys', () => {
    const { tree } = resolveText(`
c: '_copy: /b'
b: '_copy: /a/v'
a: {v: 7, w: {_copy: /d}}
d: {k: '_copy: ../../a/v'}
e: '_copy: /a/w'
`);
    expect(tree).toEqual({ c: 7, b: 7, a: { v: 7, w: { k: 7 } }, d: { k: 7 }, e: { k: 7 } });
  });

  it('resolves a target whose path goes through a node-form copy', () => {
    const { tree } = resolveText(`
search: {trainer: {optimizer: {lr: 0.025}}}
eval:
  trainer: {_copy: /search/trainer}
  lr: '_copy: /eval/trainer/optimizer/lr'
`);
    expect((tree.eval as ConfigTree).lr).toBe(0.025);
  });

  it('points copied values at the place they were written and at the _copy', () => {
    const { sources } = resolveText(`
common:
  seed: 3
apex:
  seed: '_copy: /common/seed'
trainer:
  _copy: /common
`);
    expect(sources.get('apex.seed')).toEqual({
      file: '/p/profile.yaml',
      line: 3,
      col: 3,
      copiedFrom: { keyPath: 'common.seed', at: { file: '/p/profile.yaml', line: 5, col: 3 } },
    });
    expect(sources.get('trainer.seed')).toMatchObject({
      line: 3,
      copiedFrom: { keyPath: 'common.seed', at: { line: 7, col: 3 } },
    });
    expect(sources.get('trainer._copy')).toBeUndefined();
  });
});

describe('errors', () => {
  it('reports a circular copy with the chain', () => {
    const error = errorOf(() => resolveText("a: '_copy: /b'\nb: '_copy: /c'\nc: '_copy: /a'\n"));
    expect(error.message).toMatch(
      /circular _copy: a \('_copy: \/b' at .*:1:1\) -> b \('_copy: \/c' at .*:2:1\) -> c \('_copy: \/a' at .*:3:1\) -> a$/,
    );
    expect(error.line).toBe(1);
  });

  it('reports a value that copies itself', () => {
    expect(errorOf(() => resolveText("a: {b: '_copy: /a/b'}\n")).message).toContain('circular _copy: a.b');
  });

  it('reports node-form copies that contain each other', () => {
    const error = errorOf(() => resolveText('a: {_copy: /b}\nb: {x: {_copy: /a}}\n'));
    expect(error.message).toContain('circular _copy: a (_copy: /b at');
    expect(error.message).toContain('-> b.x (_copy: /a at');
  });

  it("reports '..' above the root", () => {
    const error = errorOf(() => resolveText("a:\n  b: '_copy: ../../../x'\n"));
    expect(error.message).toBe(
      "/p/profile.yaml:2:3: a.b: _copy path '../../../x' goes above the root ('..' from /a/b)",
    );
    expect(error.exitCode).toBe(2);
  });

  it('reports a missing target with the keys that exist', () => {
    const error = errorOf(() => resolveText("common: {seed: 1, logdir: x}\na: '_copy: /common/sede'\n"));
    expect(error.message).toBe(
      "/p/profile.yaml:2:1: a: cannot resolve _copy target /common/sede: /common has no key 'sede' (its keys: seed, logdir)",
    );
  });

  it('reports a path through a scalar', () => {
    const error = errorOf(() => resolveText("common: {seed: 1}\na: '_copy: /common/seed/x'\n"));
    expect(error.message).toContain('/common/seed is a number, not a mapping');
  });
});

describe('resolveCopies', () => {
  it('does not change its input', () => {
    const input: ConfigTree = { a: { x: 1 }, b: { _copy: '/a' } };
    const before = JSON.stringify(input);
    expect(resolveCopies(input)).toEqual({ a: { x: 1 }, b: { x: 1 } });
    expect(JSON.stringify(input)).toBe(before);
  });

  it('leaves strings inside lists alone, as Archai does', () => {
    expect(resolveCopies({ a: 1, l: ['_copy: /a'] })).toEqual({ a: 1, l: ['_copy: /a'] });
  });
});
