import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROFILE_FILES } from './__tests__/archaiProfile.js';
import { removeWrittenFiles, writeFiles } from './__tests__/tmpFiles.js';
import { dumpConfig } from './dump.js';
import { loadConfigSync } from './load.js';

afterAll(removeWrittenFiles);

describe('dumpConfig', () => {
  it('writes the resolved profile so that it loads back to the same tree', () => {
    const dir = writeFiles(PROFILE_FILES);
    const config = loadConfigSync('configs/algos/darts.yaml', { cwd: dir });
    const text = dumpConfig(config.tree);
    expect(text).not.toContain('_copy');
    expect(text).not.toMatch(/[&*]\w/); // no anchors or aliases
    expect(text).toContain('decay_bn: .nan');
    const again = loadConfigSync(join(writeFiles({ 'config_used.yaml': text }), 'config_used.yaml'));
    expect(again.tree).toEqual(config.tree);
    expect(dumpConfig(again.tree)).toBe(text);
  });

  it('keeps profile order by default and sorts on request', () => {
    const tree = { b: 1, a: { d: [1, 2], c: 'x' } };
    expect(dumpConfig(tree)).toBe('b: 1\na:\n  d:\n    - 1\n    - 2\n  c: x\n');
    expect(dumpConfig(tree, { sortKeys: true })).toBe('a:\n  c: x\n  d:\n    - 1\n    - 2\nb: 1\n');
    expect(parse(dumpConfig({ s: 'a '.repeat(100) }))).toEqual({ s: 'a '.repeat(100) });
  });
});
