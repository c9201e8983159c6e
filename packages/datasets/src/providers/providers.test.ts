import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cifarRecord, tempDir } from '../__tests__/helpers.js';
import { EMBEDDED_FASHION_MNIST_DIR } from '../embedded.js';
import { createDatasetRegistry } from '../registry.js';
import type { Labels } from '../types.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const isolated = () => ({ env: {}, homeDir: join(tmp.dir, 'home'), systemDirs: [join(tmp.dir, 'none')] });

function perClass(labels: Labels, k = 10): number[] {
  const c = new Array(k).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

describe('embedded Fashion-MNIST sample', () => {
  it('loads 10,000 train and 2,000 test images, 1,000 and 200 per class, with origin embedded', async () => {
    const p = createDatasetRegistry().get('fashion_mnist');
    const train = await p.load({ ...isolated(), split: 'train' });
    const test = await p.load({ ...isolated(), split: 'test' });
    expect(train).toMatchObject({ count: 10000, height: 28, width: 28, channels: 1, origin: 'embedded' });
    expect(test).toMatchObject({ count: 2000, origin: 'embedded', dir: EMBEDDED_FASHION_MNIST_DIR });
    expect(train.images.length).toBe(10000 * 784);
    expect(perClass(train.labels)).toEqual(new Array(10).fill(1000));
    expect(perClass(test.labels)).toEqual(new Array(10).fill(200));
    // real images, not blanks: Fashion-MNIST's mean pixel is about 0.286 * 255 = 73
    const mean = train.images.reduce((a, b) => a + b, 0) / train.images.length;
    expect(mean).toBeGreaterThan(60);
    expect(mean).toBeLessThan(85);
  });

  it('ships a licence and a provenance note', () => {
    expect(readFileSync(join(EMBEDDED_FASHION_MNIST_DIR, 'LICENSE'), 'utf8')).toContain('Zalando SE');
    expect(readFileSync(join(EMBEDDED_FASHION_MNIST_DIR, 'README.md'), 'utf8')).toContain('make-sample.mjs');
  });

  const system = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(system))('is what scripts/make-sample.mjs makes from the full dataset', () => {
    const script = fileURLToPath(new URL('../../scripts/make-sample.mjs', import.meta.url));
    execFileSync(process.execPath, [script, '--src', system, '--out', tmp.dir, '--level', '1'], {
      stdio: 'pipe',
    });
    for (const f of [
      'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz',
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ]) {
      const made = gunzipSync(readFileSync(join(tmp.dir, f)));
      const shipped = gunzipSync(readFileSync(join(EMBEDDED_FASHION_MNIST_DIR, f)));
      expect(made.equals(shipped), f).toBe(true);
    }
  });
});

describe('file-backed providers', () => {
  it('cifar10 reads data_batch_1..5 as train and test_batch as test', async () => {
    const dir = join(tmp.dir, 'cifar-10-batches-bin');
    mkdirSync(dir);
    for (let i = 1; i <= 5; i++)
      writeFileSync(
        join(dir, `data_batch_${i}.bin`),
        cifarRecord([i], () => i),
      );
    writeFileSync(
      join(dir, 'test_batch.bin'),
      Buffer.concat([cifarRecord([0], () => 9), cifarRecord([8], () => 9)]),
    );
    const p = createDatasetRegistry().get('cifar10');
    const train = await p.load({ ...isolated(), dataroot: tmp.dir, split: 'train' });
    const test = await p.load({ ...isolated(), dataroot: tmp.dir, split: 'test' });
    expect(train).toMatchObject({ count: 5, channels: 3, origin: 'dataroot', dir, nClasses: 10 });
    expect(Array.from(train.labels)).toEqual([1, 2, 3, 4, 5]);
    expect(train.images[3072 * 4]).toBe(5);
    expect(Array.from(test.labels)).toEqual([0, 8]);
  });

  it('cifar100 reads train.bin/test.bin with fine labels', async () => {
    const dir = join(tmp.dir, 'cifar-100-binary');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'train.bin'),
      cifarRecord([3, 99], () => 1),
    );
    writeFileSync(
      join(dir, 'test.bin'),
      cifarRecord([1, 42], () => 1),
    );
    const p = createDatasetRegistry().get('cifar100');
    const test = await p.load({ ...isolated(), env: { TSNAS_DATAROOT: tmp.dir }, split: 'test' });
    expect(test).toMatchObject({ count: 1, origin: 'env', nClasses: 100 });
    expect(Array.from(test.labels)).toEqual([42]);
    expect(Array.from((await p.load({ ...isolated(), dataroot: tmp.dir, split: 'train' })).labels)).toEqual([
      99,
    ]);
  });
});

describe('synthetic provider', () => {
  const p = () => createDatasetRegistry().get('synthetic');

  it('makes any shape, class count and size from its options, balanced', async () => {
    const opts = { n_classes: 4, channels: 3, img_size: [6, 5], train_size: 40, test_size: 8, seed: 3 };
    const s = await p().load({ split: 'train', options: opts });
    expect(s).toMatchObject({
      count: 40,
      height: 6,
      width: 5,
      channels: 3,
      nClasses: 4,
      origin: 'generated',
    });
    expect(s.images.length).toBe(40 * 6 * 5 * 3);
    expect(perClass(s.labels, 4)).toEqual([10, 10, 10, 10]);
    expect(s.mean).toHaveLength(3);
    expect((await p().load({ split: 'test', options: opts })).count).toBe(8);
  });

  it('is a function of its seed', async () => {
    const a = await p().load({ split: 'train', options: { seed: 1, train_size: 30 } });
    const b = await p().load({ split: 'train', options: { seed: 1, train_size: 30 } });
    const c = await p().load({ split: 'train', options: { seed: 2, train_size: 30 } });
    expect(b.images).toEqual(a.images);
    expect(b.labels).toEqual(a.labels);
    expect(c.images).not.toEqual(a.images);
  });

  it('is learnable: nearest class mean of train classifies test far above chance', async () => {
    const opts = { n_classes: 10, img_size: 12, train_size: 300, test_size: 100, seed: 5, noise: 0.3 };
    const train = await p().load({ split: 'train', options: opts });
    const test = await p().load({ split: 'test', options: opts });
    const per = 144;
    const means = Array.from({ length: 10 }, () => new Float64Array(per));
    const counts = perClass(train.labels);
    for (let i = 0; i < train.count; i++)
      for (let j = 0; j < per; j++)
        means[train.labels[i]][j] += train.images[i * per + j] / counts[train.labels[i]];
    let right = 0;
    for (let i = 0; i < test.count; i++) {
      let best = -1;
      let bestD = Number.POSITIVE_INFINITY;
      means.forEach((m, k) => {
        let d = 0;
        for (let j = 0; j < per; j++) d += (test.images[i * per + j] - m[j]) ** 2;
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      });
      if (best === test.labels[i]) right++;
    }
    expect(right / test.count).toBeGreaterThan(0.9);
  });

  it('reports a bad option with its key path', async () => {
    await expect(
      p().load({ split: 'train', options: { n_classes: 0 }, optionsPath: 'loader.dataset' }),
    ).rejects.toThrow('loader.dataset.n_classes: expected an integer >= 1, got 0.');
  });
});
