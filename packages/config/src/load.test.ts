import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeWrittenFiles, writeFiles, yaml } from './__tests__/tmpFiles.js';
import { ConfigError } from './errors.js';
import { loadConfig, loadConfigSync } from './load.js';

afterAll(removeWrittenFiles);

function catchError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

async function catchErrorAsync(fn: () => Promise<unknown>): Promise<ConfigError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('__include__', () => {
  it('loads the included file first, then deep-updates it with the including file', () => {
    const dir = writeFiles({
      'base.yaml': yaml`
        common: {seed: 2, logdir: '~/logdir'}
        nas:
          search:
            trainer: {epochs: 50, grad_clip: 5.0, optimizer: {type: sgd, lr: 0.025}}
      `,
      'algo.yaml': yaml`
        __include__: base.yaml
        nas:
          search:
            trainer:
              epochs: 2
              optimizer: {lr: 0.1}
      `,
    });
    const config = loadConfigSync(join(dir, 'algo.yaml'));
    expect(config.tree).toEqual({
      common: { seed: 2, logdir: '~/logdir' },
      nas: { search: { trainer: { epochs: 2, grad_clip: 5, optimizer: { type: 'sgd', lr: 0.1 } } } },
    });
    expect(config.files).toEqual([join(dir, 'base.yaml'), join(dir, 'algo.yaml')]);
    expect(config.locate('nas.search.trainer.epochs')).toMatchObject({
      file: join(dir, 'algo.yaml'),
      line: 5,
    });
    expect(config.locate('nas.search.trainer.grad_clip')).toMatchObject({
      file: join(dir, 'base.yaml'),
      line: 4,
    });
  });

  it('loads a list of includes in order, later ones winning', () => {
    const dir = writeFiles({
      'a.yaml': 'x: 1\ny: a\nlist: [1, 2, 3]\n',
      'b.yaml': 'y: b\nz: b\nlist: [9]\n',
      'top.yaml': "__include__: ['a.yaml', 'b.yaml']\nz: top\n",
    });
    const config = loadConfigSync(join(dir, 'top.yaml'));
    // Lists replace rather than merge (Archai's deep_update).
    expect(config.tree).toEqual({ x: 1, y: 'b', z: 'top', list: [9] });
    expect(config.files.map((file) => file.slice(dir.length + 1))).toEqual(['a.yaml', 'b.yaml', 'top.yaml']);
  });

  it('resolves nested includes relative to the including file', () => {
    const dir = writeFiles({
      'configs/base.yaml': 'dataset: {dataroot: $default_dataroot}\nfrom_base: true\n',
      'configs/datasets/dataroot.yaml': 'dataset: {storage_name: fm}\n',
      'configs/datasets/fashion_mnist.yaml':
        "__include__: './dataroot.yaml'\ndataset: {name: fashion_mnist}\n",
      'configs/algos/darts.yaml':
        "__include__: ['../base.yaml', '../datasets/fashion_mnist.yaml']\nalgo: darts\n",
    });
    const config = loadConfigSync('configs/algos/darts.yaml', { cwd: dir });
    expect(config.tree).toEqual({
      dataset: { dataroot: '$default_dataroot', storage_name: 'fm', name: 'fashion_mnist' },
      from_base: true,
      algo: 'darts',
    });
    expect(config.locate('dataset.storage_name')?.file).toBe(join(dir, 'configs/datasets/dataroot.yaml'));
  });

  it('reports an include cycle with the chain of files and the line of the include', () => {
    const dir = writeFiles({
      'a.yaml': '__include__: b.yaml\na: 1\n',
      'b.yaml': 'b: 1\n__include__: [c.yaml]\n',
      'c.yaml': '__include__: a.yaml\n',
    });
    const error = catchError(() => loadConfigSync(join(dir, 'a.yaml')));
    expect(error.message).toContain(
      `include cycle: ${join(dir, 'a.yaml')} -> ${join(dir, 'b.yaml')} -> ${join(dir, 'c.yaml')} -> ${join(dir, 'a.yaml')}`,
    );
    expect(error.file).toBe(join(dir, 'c.yaml'));
    expect(error.line).toBe(1);
    expect(error.exitCode).toBe(2);
  });

  it('names the including file and line when an included file is missing', () => {
    const dir = writeFiles({ 'a.yaml': 'x: 1\n__include__:\n  - nope.yaml\n' });
    const error = catchError(() => loadConfigSync(join(dir, 'a.yaml')));
    expect(error.message).toBe(
      `${join(dir, 'a.yaml')}:3:5: __include__: included file ${join(dir, 'nope.yaml')} not found`,
    );
  });

  it('rejects __include__ below the top level', () => {
    const dir = writeFiles({ 'a.yaml': 'nas:\n  __include__: b.yaml\n' });
    const error = catchError(() => loadConfigSync(join(dir, 'a.yaml')));
    expect(error.keyPath).toBe('nas.__include__');
    expect(error.line).toBe(2);
  });

  it('allows the same file to be included twice without a cycle (diamond)', () => {
    const dir = writeFiles({
      'common.yaml': 'v: common\n',
      'left.yaml': '__include__: common.yaml\nleft: 1\n',
      'right.yaml': '__include__: common.yaml\nright: 1\n',
      'top.yaml': '__include__: [left.yaml, right.yaml]\n',
    });
    expect(loadConfigSync(join(dir, 'top.yaml')).tree).toEqual({ v: 'common', left: 1, right: 1 });
  });

  describe('a file shipped by an installed package', () => {
    const pkg = {
      'node_modules/@acme/profiles/package.json': JSON.stringify({
        name: '@acme/profiles',
        exports: { './configs/*': './configs/*', './package.json': './package.json' },
      }),
      'node_modules/@acme/profiles/configs/shared.yaml': 'eval: {epochs: 3, batch: 64}\nfrom: acme\n',
      'node_modules/@acme/profiles/private.yaml': 'secret: 1\n',
    };

    it('resolves <package>/<file> through the package exports, then the including file wins', () => {
      const dir = writeFiles({
        ...pkg,
        'algo/profile.yaml': "__include__: '@acme/profiles/configs/shared.yaml'\neval: {epochs: 5}\n",
      });
      const loaded = loadConfigSync(join(dir, 'algo/profile.yaml'));
      expect(loaded.tree).toEqual({ eval: { epochs: 5, batch: 64 }, from: 'acme' });
      expect(loaded.files[0]).toBe(join(dir, 'node_modules/@acme/profiles/configs/shared.yaml'));
    });

    it('prefers a file next to the including one (Archai relative includes keep working)', () => {
      const dir = writeFiles({
        ...pkg,
        'sub/x.yaml': 'local: true\n',
        'top.yaml': '__include__: sub/x.yaml\n',
      });
      expect(loadConfigSync(join(dir, 'top.yaml')).tree).toEqual({ local: true });
    });

    it('names the include, the file and the reason when the package does not export the file', () => {
      const dir = writeFiles({ ...pkg, 'top.yaml': "x: 1\n__include__: '@acme/profiles/private.yaml'\n" });
      const error = catchError(() => loadConfigSync(join(dir, 'top.yaml')));
      expect(error.message).toBe(
        `${join(dir, 'top.yaml')}:2:1: __include__: cannot include '@acme/profiles/private.yaml': ` +
          `not a file next to ${join(dir, 'top.yaml')}, and the package does not export that file`,
      );
    });

    it('says when no installed package provides it', () => {
      const dir = writeFiles({ 'top.yaml': '__include__: nopkg/base.yaml\n' });
      const error = catchError(() => loadConfigSync(join(dir, 'top.yaml')));
      expect(error.message).toContain("cannot include 'nopkg/base.yaml'");
      expect(error.message).toContain('no installed package provides it');
    });
  });
});

describe('several files', () => {
  it('merges them in order, each deep-updating the tree so far', () => {
    const dir = writeFiles({
      'one.yaml': 'a: {x: 1, y: 1}\nb: one\n',
      'two.yaml': 'a: {y: 2, z: 2}\n',
      'three.yaml': 'b: three\nc: [1]\n',
    });
    const config = loadConfigSync(['one.yaml', 'two.yaml', 'three.yaml'], { cwd: dir });
    expect(config.tree).toEqual({ a: { x: 1, y: 2, z: 2 }, b: 'three', c: [1] });
    expect(config.locate('a.y')?.file).toBe(join(dir, 'two.yaml'));
    expect(config.locate('a.x')?.file).toBe(join(dir, 'one.yaml'));
  });

  it("accepts Archai's ';'-separated file string", () => {
    const dir = writeFiles({ 'one.yaml': 'a: 1\nb: 1\n', 'two.yaml': 'b: 2\n' });
    expect(loadConfigSync('one.yaml;two.yaml', { cwd: dir }).tree).toEqual({ a: 1, b: 2 });
  });

  it('applies a later include over earlier files the way Archai does (into the tree so far)', () => {
    // Archai loads b's includes into the tree built from a, then b's own keys. A scalar set by the
    // include replaces a's mapping, and b's mapping then starts from scratch.
    const dir = writeFiles({
      'a.yaml': 'k: {from_a: 1}\n',
      'inc.yaml': 'k: 5\n',
      'b.yaml': '__include__: inc.yaml\nk: {from_b: 1}\n',
    });
    expect(loadConfigSync(['a.yaml', 'b.yaml'], { cwd: dir }).tree).toEqual({ k: { from_b: 1 } });
  });

  it('forgets the locations of keys that a later file replaced', () => {
    const dir = writeFiles({ 'one.yaml': 'a:\n  x: 1\n  y: 2\n', 'two.yaml': 'a: 7\n' });
    const config = loadConfigSync(['one.yaml', 'two.yaml'], { cwd: dir });
    expect(config.tree).toEqual({ a: 7 });
    expect(config.sources.get('a.x')).toBeUndefined();
    expect(config.sources.get('a')).toMatchObject({ file: join(dir, 'two.yaml'), line: 1 });
  });
});

describe('malformed files', () => {
  it('names file, line and column of a YAML syntax error', () => {
    const dir = writeFiles({ 'bad.yaml': 'a:\n  b: 1\n  c: [1, 2\nd: 3\n' });
    const error = catchError(() => loadConfigSync(join(dir, 'bad.yaml')));
    expect(error.message.startsWith(`${join(dir, 'bad.yaml')}:`)).toBe(true);
    expect(error.file).toBe(join(dir, 'bad.yaml'));
    expect(error.line).toBeGreaterThanOrEqual(3);
    expect(error.col).toBeTypeOf('number');
    expect(error.exitCode).toBe(2);
  });

  it('names the line of a duplicate key', () => {
    const dir = writeFiles({ 'dup.yaml': 'a: 1\nb: 2\na: 3\n' });
    const error = catchError(() => loadConfigSync(join(dir, 'dup.yaml')));
    expect(error.line).toBe(3);
    expect(error.message).toContain(`${join(dir, 'dup.yaml')}:3:1:`);
  });

  it('names a malformed YAML file reached through an include', () => {
    const dir = writeFiles({ 'top.yaml': '__include__: inc.yaml\n', 'inc.yaml': 'ok: 1\nbad: : x\n' });
    const error = catchError(() => loadConfigSync(join(dir, 'top.yaml')));
    expect(error.file).toBe(join(dir, 'inc.yaml'));
    expect(error.line).toBe(2);
  });

  it('rejects a file whose top level is not a mapping', () => {
    const dir = writeFiles({ 'list.yaml': '# comment\n- a\n- b\n' });
    const error = catchError(() => loadConfigSync(join(dir, 'list.yaml')));
    expect(error.message).toBe(
      `${join(dir, 'list.yaml')}:2:1: a profile must be a mapping of keys at the top level, found a list`,
    );
  });

  it('names a missing top-level file', () => {
    const error = catchError(() => loadConfigSync('/nonexistent/tsnas/profile.yaml'));
    expect(error.message).toBe('config file /nonexistent/tsnas/profile.yaml not found');
  });

  it('treats an empty file as an empty profile', () => {
    const dir = writeFiles({ 'empty.yaml': '# nothing yet\n', 'b.yaml': 'a: 1\n' });
    expect(loadConfigSync(['empty.yaml', 'b.yaml'], { cwd: dir }).tree).toEqual({ a: 1 });
  });
});

describe('YAML features', () => {
  it('expands anchors, aliases and << merge keys into independent copies with their own locations', () => {
    const dir = writeFiles({
      'a.yaml': yaml`
        defaults: &opt {type: sgd, lr: 0.025}
        search:
          optimizer:
            <<: *opt
            lr: 0.1
        eval:
          optimizer: *opt
      `,
    });
    const config = loadConfigSync(join(dir, 'a.yaml'));
    expect(config.tree.search).toEqual({ optimizer: { type: 'sgd', lr: 0.1 } });
    expect(config.tree.eval).toEqual({ optimizer: { type: 'sgd', lr: 0.025 } });
    expect(config.tree.eval).not.toBe(config.tree.defaults);
    expect(config.locate('search.optimizer.lr')?.line).toBe(5);
    expect(config.locate('search.optimizer.type')?.line).toBe(1);
    expect(config.locate('eval.optimizer.lr')?.line).toBe(1);
  });

  it('records sequence items as key[index]', () => {
    const dir = writeFiles({ 'a.yaml': 'stems:\n  ops:\n    - stem_conv3x3\n    - stem_conv3x3\n' });
    const config = loadConfigSync(join(dir, 'a.yaml'));
    expect(config.locate('stems.ops[1]')).toMatchObject({ line: 4, col: 7 });
    expect(config.get('stems.ops[1]')).toBe('stem_conv3x3');
  });
});

describe('other file types', () => {
  it('reads JSON with line numbers', () => {
    const dir = writeFiles({ 'a.json': '{\n  "common": {\n    "seed": 4\n  }\n}\n' });
    const config = loadConfigSync(join(dir, 'a.json'));
    expect(config.tree).toEqual({ common: { seed: 4 } });
    expect(config.locate('common.seed')?.line).toBe(3);
  });

  it('reads the "nas" key of a package.json', () => {
    const dir = writeFiles({
      'package.json': '{\n  "name": "x",\n  "nas": {\n    "common": {"seed": 9}\n  }\n}\n',
    });
    const config = loadConfigSync(join(dir, 'package.json'));
    expect(config.tree).toEqual({ common: { seed: 9 } });
    expect(config.locate('common.seed')?.line).toBe(4);
  });

  it('loads an ESM JS config with loadConfig and names its file in locations', async () => {
    const dir = writeFiles({
      'base.yaml': 'common: {seed: 1, resume: true}\n',
      'nas.config.mjs': "export default { __include__: 'base.yaml', common: { seed: 5 } };\n",
    });
    const config = await loadConfig(join(dir, 'nas.config.mjs'));
    expect(config.tree).toEqual({ common: { seed: 5, resume: true } });
    expect(config.locate('common.seed')).toEqual({ file: join(dir, 'nas.config.mjs') });
  });

  it('loads a TypeScript config through the typescript package', async () => {
    const dir = writeFiles({
      'nas.config.ts':
        'const epochs: number = 3;\nexport default { nas: { search: { trainer: { epochs } } } };\n',
    });
    const config = await loadConfig(join(dir, 'nas.config.ts'));
    expect(config.get('nas.search.trainer.epochs')).toBe(3);
  });

  it('refuses JS configs in the sync loader', () => {
    const dir = writeFiles({ 'c.mjs': 'export default {}\n' });
    expect(catchError(() => loadConfigSync(join(dir, 'c.mjs'))).message).toContain('async loadConfig');
  });

  it('rejects non-plain values in JS configs', async () => {
    const dir = writeFiles({ 'c.mjs': 'export default { a: { when: new Date(0) } }\n' });
    const error = await catchErrorAsync(() => loadConfig(join(dir, 'c.mjs')));
    expect(error.keyPath).toBe('a.when');
    expect(error.message).toContain('found Date');
  });

  it('async and sync loaders agree on YAML', async () => {
    const dir = writeFiles({ 'a.yaml': 'x: {y: 1}\nz: "_copy: /x/y"\n' });
    const [a, b] = [await loadConfig(join(dir, 'a.yaml')), loadConfigSync(join(dir, 'a.yaml'))];
    expect(a.tree).toEqual(b.tree);
    expect(a.tree).toEqual({ x: { y: 1 }, z: 1 });
  });
});

describe('file names', () => {
  it('accepts file: URLs, as a plug-in gives its default profile', () => {
    const dir = writeFiles({ 'algo.yaml': 'a: 1\n' });
    const url = new URL(`file://${join(dir, 'algo.yaml')}`);
    expect(loadConfigSync([url]).tree).toEqual({ a: 1 });
  });
});
