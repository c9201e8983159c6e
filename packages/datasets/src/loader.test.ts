import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataLoader } from './loader.js';
import { NO_AUG, normalize } from './transforms.js';
import type { ImageSet } from './types.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// 10 images of 2x3x2 whose pixels all equal 10*i + channel, label i % 3.
function set(n = 10): ImageSet {
  const per = 2 * 3 * 2;
  const images = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) for (let p = 0; p < per; p++) images[i * per + p] = 10 * i + (p % 2);
  return {
    images,
    labels: Uint8Array.from({ length: n }, (_, i) => i % 3),
    count: n,
    height: 2,
    width: 3,
    channels: 2,
  };
}
const plain = { mean: [0, 0], std: [1, 1], aug: NO_AUG, cutout: 0 };

function epochOrder(dl: DataLoader): number[] {
  const seen: number[] = [];
  for (const b of dl) {
    seen.push(...b.indices);
    tf.dispose([b.x, b.y]);
  }
  return seen;
}

describe('DataLoader', () => {
  it('yields NHWC float32 x and int32 y of the right shapes, last batch partial', () => {
    const dl = new DataLoader(set(), { batchSize: 4, transform: plain });
    expect(dl.length).toBe(3);
    expect(dl.size).toBe(10);
    const shapes: number[][] = [];
    for (const { x, y, indices } of dl) {
      shapes.push(x.shape);
      expect(x.dtype).toBe('float32');
      expect(y.dtype).toBe('int32');
      expect(y.shape).toEqual([x.shape[0]]);
      const xs = x.dataSync();
      const ys = y.dataSync();
      indices.forEach((i, k) => {
        expect(ys[k]).toBe(i % 3);
        expect(xs[k * 12]).toBeCloseTo((10 * i) / 255, 6);
        expect(xs[k * 12 + 1]).toBeCloseTo((10 * i + 1) / 255, 6);
      });
      tf.dispose([x, y]);
    }
    expect(shapes).toEqual([
      [4, 2, 3, 2],
      [4, 2, 3, 2],
      [2, 2, 3, 2],
    ]);
  });

  it('applies the normalisation of its transform', () => {
    const s = set(2);
    const spec = { mean: [0.1, 0.2], std: [0.3, 0.4], aug: NO_AUG, cutout: 0 };
    const a = new DataLoader(s, { batchSize: 2, transform: spec }).batchArrays(0);
    expect(a.x).toEqual(normalize(s.images, [0.1, 0.2], [0.3, 0.4]));
  });

  it('covers every sample exactly once per epoch, in a new order each epoch', () => {
    const dl = new DataLoader(set(), { batchSize: 3, transform: plain, shuffle: true, seed: 4 });
    const e0 = epochOrder(dl);
    dl.setEpoch(1);
    const e1 = epochOrder(dl);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e1).not.toEqual(e0);
  });

  it('serves only its indices', () => {
    const dl = new DataLoader(set(), {
      batchSize: 2,
      transform: plain,
      shuffle: true,
      indices: Int32Array.from([1, 4, 7]),
    });
    expect(dl.length).toBe(2);
    expect(epochOrder(dl).sort()).toEqual([1, 4, 7]);
  });

  it('reproduces an epoch from (seed, epoch), augmentations included, also from the middle', () => {
    const aug = { mean: [0, 0], std: [1, 1], aug: { crop: 1, hflip: true, vflip: false }, cutout: 1 };
    const mk = () => new DataLoader(set(), { batchSize: 3, transform: aug, shuffle: true, seed: 11 });
    const a = mk();
    a.setEpoch(3);
    const full = Array.from({ length: a.length }, (_, b) => a.batchArrays(b));
    const b = mk(); // a "resumed" loader that jumps straight to epoch 3, batch 2
    b.setEpoch(3);
    const resumed = [...b.batches(2)];
    expect(resumed.length).toBe(a.length - 2);
    resumed.forEach((batch, k) => {
      expect(batch.x.dataSync()).toEqual(full[k + 2].x);
      expect(batch.indices).toEqual(full[k + 2].indices);
      tf.dispose([batch.x, batch.y]);
    });
    const other = new DataLoader(set(), { batchSize: 3, transform: aug, shuffle: true, seed: 12 });
    other.setEpoch(3);
    expect(other.order()).not.toEqual(a.order());
  });

  it('unshuffled keeps the given order every epoch', () => {
    const dl = new DataLoader(set(), { batchSize: 4, transform: plain });
    dl.setEpoch(5);
    expect(epochOrder(dl)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('leaks no tensors once the caller disposes each batch', () => {
    const dl = new DataLoader(set(), { batchSize: 3, transform: plain, shuffle: true });
    const before = tf.memory().numTensors;
    for (let e = 0; e < 3; e++) {
      dl.setEpoch(e);
      for (const b of dl) {
        tf.tidy(() => {
          tf.add(tf.mean(b.x), tf.sum(b.y));
        });
        tf.dispose([b.x, b.y]);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a normalisation that does not match the channels', () => {
    expect(
      () => new DataLoader(set(), { batchSize: 2, transform: { ...plain, mean: [0], std: [1] } }),
    ).toThrow(/1 channels, the images have 2/);
  });
});
