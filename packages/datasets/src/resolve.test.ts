import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir, writeTinyMnist } from './__tests__/helpers.js';
import { resolveDataset } from './data.js';
import { EMBEDDED_FASHION_MNIST_DIR } from './embedded.js';
import { DatasetError } from './errors.js';
import { cacheDataroot } from './resolve.js';

let tmp: ReturnType<typeof tempDir>;
let roots: Record<'arg' | 'env' | 'home' | 'sys' | 'empty', string>;
beforeEach(() => {
  tmp = tempDir();
  roots = {
    arg: join(tmp.dir, 'arg'),
    env: join(tmp.dir, 'env'),
    home: join(tmp.dir, 'home'),
    sys: join(tmp.dir, 'sys'),
    empty: join(tmp.dir, 'empty'),
  };
  for (const r of Object.values(roots)) mkdirSync(r, { recursive: true });
});
afterEach(() => tmp.cleanup());

/** Puts a tiny MNIST into `<root>/<sub>`. */
function install(root: string, sub = 'mnist'): string {
  const dir = join(root, sub);
  mkdirSync(dir, { recursive: true });
  writeTinyMnist(dir);
  return dir;
}

describe('resolveDataset', () => {
  const opts = () => ({
    dataroot: roots.arg,
    env: { TSNAS_DATAROOT: roots.env } as Record<string, string | undefined>,
    homeDir: roots.home,
    systemDirs: [roots.empty, roots.sys],
  });
  const cache = () => join(roots.home, '.cache', 'tsnas', 'datasets');

  it('tries --dataroot, then $TSNAS_DATAROOT, then the cache, then the system folders', () => {
    const sys = install(roots.sys);
    expect(resolveDataset('mnist', opts())).toEqual({ dir: sys, origin: 'system' });
    const cached = install(cache());
    expect(resolveDataset('mnist', opts())).toEqual({ dir: cached, origin: 'cache' });
    const env = install(roots.env);
    expect(resolveDataset('mnist', opts())).toEqual({ dir: env, origin: 'env' });
    const arg = install(roots.arg);
    expect(resolveDataset('mnist', opts())).toEqual({ dir: arg, origin: 'dataroot' });
  });

  it('accepts a data root that is the dataset folder itself, and torchvision layouts', () => {
    writeTinyMnist(roots.arg);
    expect(resolveDataset('mnist', opts())).toEqual({ dir: roots.arg, origin: 'dataroot' });
    const tv = install(roots.sys, 'MNIST/raw');
    expect(resolveDataset('mnist', { ...opts(), dataroot: undefined, env: {} })).toEqual({
      dir: tv,
      origin: 'system',
    });
  });

  it('uses XDG_CACHE_HOME for the cache when set', () => {
    expect(cacheDataroot({ env: { XDG_CACHE_HOME: '/x/c' }, homeDir: '/h' })).toBe('/x/c/tsnas/datasets');
    expect(cacheDataroot({ env: {}, homeDir: '/h' })).toBe('/h/.cache/tsnas/datasets');
  });

  it('falls back to the embedded sample for fashion_mnist only', () => {
    const o = { ...opts(), systemDirs: [roots.empty] };
    expect(resolveDataset('fashion_mnist', o)).toEqual({
      dir: EMBEDDED_FASHION_MNIST_DIR,
      origin: 'embedded',
    });
    const env = install(roots.env, 'fashion-mnist');
    expect(resolveDataset('fashion_mnist', o)).toEqual({ dir: env, origin: 'env' });
    expect(() => resolveDataset('mnist', o)).toThrow(DatasetError);
  });

  it('useEmbedded skips every other place; datasets without a copy say so', () => {
    install(roots.arg, 'fashion-mnist');
    expect(resolveDataset('fashion_mnist', { ...opts(), useEmbedded: true })).toEqual({
      dir: EMBEDDED_FASHION_MNIST_DIR,
      origin: 'embedded',
    });
    expect(() => resolveDataset('mnist', { ...opts(), useEmbedded: true })).toThrow(
      "Dataset 'mnist' has no embedded copy",
    );
  });

  it('a folder missing one file does not count', () => {
    const dir = install(roots.sys);
    rmSync(join(dir, 't10k-labels-idx1-ubyte.gz'));
    expect(() => resolveDataset('mnist', opts())).toThrow(/was not found/);
  });

  it('a missing dataset is one error listing every place looked and how to get it', () => {
    const err = (() => {
      try {
        resolveDataset('cifar10', { ...opts(), dataroot: undefined, env: {} });
      } catch (e) {
        return e as DatasetError;
      }
      throw new Error('expected a throw');
    })();
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('E_NOT_FOUND');
    const m = err.message;
    expect(m).toMatch(/^Dataset 'cifar10' was not found\. Looked in:/);
    expect(m).toContain('--dataroot: not given');
    expect(m).toContain('$TSNAS_DATAROOT: not set');
    expect(m).toContain(join(cache(), 'cifar-10-batches-bin'));
    expect(m).toContain(join(roots.empty, 'cifar-10-batches-bin'));
    expect(m).toContain(join(roots.sys, 'cifar-10-batches-bin'));
    expect(m).toContain('data_batch_1.bin');
    expect(m).toContain('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
  });

  it('names the given roots in the error', () => {
    expect(() => resolveDataset('mnist', opts())).toThrow(
      new RegExp(`--dataroot: ${join(roots.arg, 'mnist')}`),
    );
    expect(() => resolveDataset('mnist', opts())).toThrow(/yann\.lecun\.com/);
  });

  it('generated datasets need no files', () => {
    expect(resolveDataset('synthetic', opts())).toEqual({ dir: '', origin: 'generated' });
  });
});
