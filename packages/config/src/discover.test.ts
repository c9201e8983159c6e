import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeWrittenFiles, writeFiles } from './__tests__/tmpFiles.js';
import { findProjectRoot, findUserConfig } from './discover.js';
import { ConfigError } from './errors.js';
import { loadConfig } from './load.js';

afterAll(removeWrittenFiles);

describe('findProjectRoot', () => {
  it('stops at .git, pnpm-workspace.yaml or a package.json with workspaces', () => {
    const dir = writeFiles({
      'mono/pnpm-workspace.yaml': 'packages: []\n',
      'mono/packages/a/package.json': '{"name": "a"}\n',
      'npmws/package.json': '{"workspaces": ["x"]}\n',
      'npmws/x/src/.keep': '',
    });
    expect(findProjectRoot(join(dir, 'mono/packages/a'))).toBe(join(dir, 'mono'));
    expect(findProjectRoot(join(dir, 'npmws/x/src'))).toBe(join(dir, 'npmws'));
    expect(findProjectRoot(join(dir, 'other'))).toBe(dir); // the .git writeFiles puts there
  });
});

describe('findUserConfig', () => {
  it('finds nas.config.yaml in a parent folder', async () => {
    const dir = writeFiles({
      'nas.config.yaml': 'common:\n  seed: 11\n',
      'packages/app/src/.keep': '',
      'packages/app/package.json': '{"name": "app"}\n',
    });
    const found = await findUserConfig(join(dir, 'packages/app/src'));
    expect(found).toEqual({ filepath: join(dir, 'nas.config.yaml'), config: { common: { seed: 11 } } });
  });

  it('finds the "nas" key of a package.json, skipping package.json files without one', async () => {
    const dir = writeFiles({
      'package.json': JSON.stringify({ name: 'proj', nas: { nas: { search: { trainer: { epochs: 1 } } } } }),
      'sub/package.json': JSON.stringify({ name: 'sub' }),
    });
    const found = await findUserConfig(join(dir, 'sub'));
    expect(found).toEqual({
      filepath: join(dir, 'package.json'),
      config: { nas: { search: { trainer: { epochs: 1 } } } },
    });
  });

  it('prefers the nearest folder', async () => {
    const dir = writeFiles({ 'nas.config.yaml': 'a: outer\n', 'inner/.nasrc': 'a: inner\n' });
    expect(await findUserConfig(join(dir, 'inner'))).toEqual({
      filepath: join(dir, 'inner/.nasrc'),
      config: { a: 'inner' },
    });
  });

  it('does not look above the project root', async () => {
    const outer = writeFiles(
      { 'nas.config.yaml': 'a: 1\n', 'project/src/.keep': '' },
      { projectRoot: false },
    );
    mkdirSync(join(outer, 'project/.git'));
    expect(await findUserConfig(join(outer, 'project/src'))).toBeNull();
  });

  it('loads .nasrc.json, nas.config.mjs and nas.config.ts', async () => {
    const dir = writeFiles({
      'j/.nasrc.json': '{"a": 1}',
      'm/nas.config.mjs': 'export default { a: 2 };\n',
      't/nas.config.ts': 'const a: number = 3;\nexport default { a };\n',
    });
    expect((await findUserConfig(join(dir, 'j')))?.config).toEqual({ a: 1 });
    expect((await findUserConfig(join(dir, 'm')))?.config).toEqual({ a: 2 });
    expect((await findUserConfig(join(dir, 't')))?.config).toEqual({ a: 3 });
  });

  it('reports two configs in one folder', async () => {
    const dir = writeFiles({ 'nas.config.yaml': 'a: 1\n', '.nasrc.json': '{}' });
    await expect(findUserConfig(dir)).rejects.toThrow(
      `two user configs in ${dir}: ${join(dir, 'nas.config.yaml')} and ${join(dir, '.nasrc.json')}; keep one`,
    );
  });

  it('reports malformed YAML with file and line', async () => {
    const dir = writeFiles({ 'nas.config.yaml': 'a: 1\nb: [\n' });
    const error = await findUserConfig(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).file).toBe(join(dir, 'nas.config.yaml'));
    expect((error as ConfigError).line).toBeGreaterThanOrEqual(2);
  });

  it('hands the found file to loadConfig, which keeps its lines', async () => {
    const dir = writeFiles({ 'base.yaml': 'common: {seed: 1}\n', 'nas.config.yaml': 'common:\n  seed: 5\n' });
    const found = await findUserConfig(dir);
    const config = await loadConfig([join(dir, 'base.yaml'), found!.filepath]);
    expect(config.get('common.seed')).toBe(5);
    expect(config.locate('common.seed')).toMatchObject({ file: join(dir, 'nas.config.yaml'), line: 2 });
  });
});
