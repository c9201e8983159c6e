import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DataLogEvent, getData, type LoaderConf, parseAug } from './data.js';
import { DatasetError } from './errors.js';
import type { DataLoader } from './loader.js';
import { NO_AUG } from './transforms.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const synth = { name: 'synthetic', n_classes: 4, img_size: 8, train_size: 200, test_size: 40, seed: 1 };
const isolated = { env: {}, homeDir: '/nonexistent-home', systemDirs: ['/nonexistent-sys'] };

function classCounts(dl: DataLoader, k = 4): number[] {
  const c = new Array(k).fill(0);
  for (const i of dl.indices) c[dl.data.labels[i]]++;
  return c;
}

describe('getData', () => {
  it('builds train/val from a stratified split of train and an unshuffled test', async () => {
    const conf: LoaderConf = {
      dataset: synth,
      train_batch: 32,
      test_batch: 16,
      val_ratio: 0.5,
      load_test: true,
    };
    const { train, val, test, dataset } = await getData(conf, { seed: 2 });
    expect(dataset).toMatchObject({
      name: 'synthetic',
      origin: 'generated',
      nClasses: 4,
      channels: 1,
      height: 8,
      width: 8,
    });
    expect(train!.size).toBe(100);
    expect(val!.size).toBe(100);
    expect(classCounts(train!)).toEqual([25, 25, 25, 25]);
    expect(classCounts(val!)).toEqual([25, 25, 25, 25]);
    const overlap = [...train!.indices].filter((i) => val!.indices.includes(i));
    expect(overlap).toEqual([]);
    expect(train!.length).toBe(4);
    expect(test!.size).toBe(40);
    expect(test!.shuffle).toBe(false);
    expect(train!.shuffle && val!.shuffle).toBe(true);
    // same conf, same split (seed 0), whatever the run seed
    const again = await getData(conf, { seed: 99 });
    expect(again.val!.indices).toEqual(val!.indices);
  });

  it('max_batches keeps a stratified max_batches * batch of each split', async () => {
    const conf: LoaderConf = {
      dataset: { ...synth, max_batches: 2 },
      train_batch: 10,
      test_batch: 4,
      val_ratio: 0.5,
      load_test: true,
    };
    const { train, val, test } = await getData(conf);
    expect(train!.size).toBe(20);
    expect(train!.length).toBe(2);
    expect(val!.size).toBe(20);
    expect(classCounts(train!)).toEqual([5, 5, 5, 5]);
    expect(test!.size).toBe(8);
    expect(test!.length).toBe(2);
  });

  it('val_ratio 0 gives no val loader; load_train false gives only test', async () => {
    const a = await getData({ dataset: synth, val_ratio: 0, load_test: false });
    expect(a.val).toBeNull();
    expect(a.test).toBeNull();
    expect(a.train!.size).toBe(200);
    const b = await getData({ dataset: synth, load_train: false, load_test: true });
    expect(b.train).toBeNull();
    expect(b.test!.size).toBe(40);
  });

  it('train batches carry augmentation and cutout; test batches are only normalised', async () => {
    const conf: LoaderConf = {
      dataset: synth,
      train_batch: 8,
      test_batch: 8,
      aug: 'crop_flip',
      cutout: 4,
      crop_padding: 2,
    };
    const { train, test } = await getData(conf);
    expect(train!.transform.aug).toEqual({ crop: 2, hflip: true, vflip: false });
    expect(train!.transform.cutout).toBe(4);
    expect(test!.transform).toMatchObject({ aug: NO_AUG, cutout: 0 });
    const x = train!.batchArrays(0).x;
    expect(x.filter((v) => v === 0).length).toBeGreaterThanOrEqual(8 * 4); // cutout zeroes >= 2x2 per image here
    const before = tf.memory().numTensors;
    for (const b of test!) {
      expect(b.x.shape).toEqual([8, 8, 8, 1]);
      tf.dispose([b.x, b.y]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads fashion_mnist from the embedded sample when nothing else has it, and logs the origin', async () => {
    const events: DataLogEvent[] = [];
    const { train, test, dataset } = await getData(
      {
        dataset: { name: 'fashion_mnist', max_batches: 1 },
        train_batch: 64,
        test_batch: 100,
        val_ratio: 0.5,
        load_test: true,
      },
      { ...isolated, log: (e) => events.push(e) },
    );
    expect(dataset.origin).toBe('embedded');
    expect(events.map((e) => [e.split, e.origin, e.samples])).toEqual([
      ['train', 'embedded', 10000],
      ['test', 'embedded', 2000],
    ]);
    expect(train!.size).toBe(64);
    expect(test!.size).toBe(100);
    expect(train!.transform.aug).toEqual({ crop: 2, hflip: true, vflip: false });
    const b = train!.batch(0);
    expect(b.x.shape).toEqual([64, 28, 28, 1]);
    tf.dispose([b.x, b.y]);
  });

  it('dataset.embedded: true uses the shipped sample even when the full set is installed', async () => {
    const events: DataLogEvent[] = [];
    const { train } = await getData(
      { dataset: { name: 'fashion_mnist', embedded: true }, load_test: false },
      { log: (e) => events.push(e) },
    );
    expect(events[0]).toMatchObject({ origin: 'embedded', samples: 10000 });
    expect(train!.size).toBe(10000);
  });

  it('reports a missing dataset and bad values with exit code 2 and the key path', async () => {
    const missing = await getData(
      { dataset: { name: 'cifar10' } },
      { ...isolated, dataroot: '/nowhere' },
    ).catch((e) => e);
    expect(missing).toBeInstanceOf(DatasetError);
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toContain(join('/nowhere', 'cifar-10-batches-bin'));
    await expect(getData({ dataset: synth, train_batch: 0 })).rejects.toThrow(
      'loader.train_batch: expected an integer >= 1, got 0.',
    );
    await expect(
      getData({ dataset: synth, val_ratio: 1.5 }, { confPath: 'nas.search.loader' }),
    ).rejects.toThrow('nas.search.loader.val_ratio: expected a number in [0, 1), got 1.5.');
    await expect(getData({ dataset: { name: 'svhn' } })).rejects.toThrow(
      /Unknown dataset 'svhn'\. Registered datasets: cifar10, cifar100/,
    );
    await expect(getData({ dataset: synth, val_ratio: 0.5, val_fold: 3 })).rejects.toThrow(
      /^loader: val_fold must be/,
    );
    await expect(getData({ dataset: synth, load_train: false, load_test: false })).rejects.toThrow(
      /nothing to load/,
    );
    await expect(getData({} as LoaderConf)).rejects.toThrow(
      'loader.dataset: expected a mapping, got undefined.',
    );
  });
});

describe('parseAug', () => {
  const def = { crop: 4, hflip: true, vflip: false };
  it("'' keeps the dataset default, 'none' turns it off, tokens combine", () => {
    expect(parseAug('', def, 4)).toBe(def);
    expect(parseAug('none', def, 4)).toEqual(NO_AUG);
    expect(parseAug('crop', def, 3)).toEqual({ crop: 3, hflip: false, vflip: false });
    expect(parseAug('crop+vflip', def, 2)).toEqual({ crop: 2, hflip: false, vflip: true });
    expect(parseAug('default+vflip', def, 4)).toEqual({ crop: 4, hflip: true, vflip: true });
  });
  it('rejects unknown names and AutoAugment policies with the key path', () => {
    expect(() => parseAug('rotate', def, 4)).toThrow(/^loader\.aug: unknown augmentation 'rotate'/);
    expect(() => parseAug('autoaug_cifar10', def, 4)).toThrow(
      "loader.aug: the AutoAugment policy 'autoaug_cifar10' is not implemented",
    );
  });
});
