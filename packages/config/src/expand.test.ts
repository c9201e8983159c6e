// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings test ${name} expansion
import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { expandPath } from './expand.js';

describe('expandPath', () => {
  const env = { HOME_DATA: '/data', expdir: '/from/env' };

  it('expands $name and ${name}, caller variables before the environment', () => {
    expect(expandPath('$expdir/final_model_desc.yaml', { expdir: '/runs/x' }, { env })).toBe(
      '/runs/x/final_model_desc.yaml',
    );
    expect(expandPath('${expdir}_eval/m.json', { expdir: '/runs/x' }, { env })).toBe('/runs/x_eval/m.json');
    expect(expandPath('$expdir/a', {}, { env })).toBe('/from/env/a');
    expect(expandPath('$HOME_DATA/$dataset', { dataset: 'fm' }, { env })).toBe('/data/fm');
    expect(expandPath('plain/path', {}, { env })).toBe('plain/path');
  });

  it('reads process.env by default', () => {
    process.env.TSNAS_CONFIG_TEST_VAR = '/tmp/xyz';
    try {
      expect(expandPath('$TSNAS_CONFIG_TEST_VAR/c')).toBe('/tmp/xyz/c');
    } finally {
      delete process.env.TSNAS_CONFIG_TEST_VAR;
    }
  });

  it('expands ~ at the start only', () => {
    expect(expandPath('~/logdir', {}, { env })).toBe(`${homedir()}/logdir`);
    expect(expandPath('~', {}, { env })).toBe(homedir());
    expect(expandPath('a/~/b', {}, { env })).toBe('a/~/b');
  });

  it('throws on an unknown variable, naming it, the key and the known ones', () => {
    let error: unknown;
    try {
      expandPath('$logdir/x', { expdir: '/r' }, { env, keyPath: 'common.tb_dir' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      "common.tb_dir: unknown variable $logdir in '$logdir/x'; set it in the environment or use one of: $expdir",
    );
    expect((error as ConfigError).exitCode).toBe(2);
  });

  it('can keep unknown variables as written, like Python', () => {
    expect(expandPath('$nope/${nope2}', {}, { env, onMissing: 'keep' })).toBe('$nope/${nope2}');
  });
});
