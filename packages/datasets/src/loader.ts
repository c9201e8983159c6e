import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '@tsnas/backend';
import { type TransformSpec, transformBatch } from './transforms.js';
import type { ImageSet } from './types.js';

/** One batch. The caller owns `x` and `y` and must dispose them (or create them inside tf.tidy). */
export interface Batch {
  /** [n, h, w, c] float32, transformed. */
  x: tf.Tensor4D;
  /** [n] int32 class labels. */
  y: tf.Tensor1D;
  /** Which samples of the underlying set the batch holds, in order. */
  indices: Int32Array;
}

/** A batch as plain arrays, before any tensor exists. */
export interface BatchArrays {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
  indices: Int32Array;
}

export interface DataLoaderOptions {
  batchSize: number;
  transform: TransformSpec;
  /** Reshuffle every epoch (default false: the order of `indices`). */
  shuffle?: boolean;
  /** Seeds the order and the augmentations (default 0). */
  seed?: number;
  /** The samples this loader serves (default: all of `data`). */
  indices?: Int32Array;
  /** Names the random streams, so loaders over one set with one seed still differ (default 'data'). */
  stream?: string;
}

/**
 * A seeded batch iterator over (part of) an image set. Epoch `e`'s sample order and every batch's
 * augmentations are functions of (seed, stream, e) alone, so after `setEpoch(e)` a resumed run sees
 * exactly the batches an uninterrupted one would, even from the middle (`batches(from)`). The last
 * batch may be smaller (drop_last false). Tensors are created only for the batch being yielded and
 * belong to the caller; the loader itself holds none.
 */
export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly stream: string;
  readonly indices: Int32Array;
  readonly transform: TransformSpec;
  private currentEpoch = 0;
  private cachedOrder: Int32Array | null = null;

  constructor(
    readonly data: ImageSet,
    opts: DataLoaderOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    if (opts.transform.mean.length !== data.channels) {
      throw new RangeError(
        `DataLoader: normalisation has ${opts.transform.mean.length} channels, the images have ${data.channels}`,
      );
    }
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? false;
    this.seed = opts.seed ?? 0;
    this.stream = opts.stream ?? 'data';
    this.indices = opts.indices ?? Int32Array.from({ length: data.count }, (_, i) => i);
    this.transform = opts.transform;
  }

  /** Samples per epoch. */
  get size(): number {
    return this.indices.length;
  }

  /** Batches per epoch (the last may be partial). */
  get length(): number {
    return Math.ceil(this.indices.length / this.batchSize);
  }

  get epoch(): number {
    return this.currentEpoch;
  }

  /** Selects the epoch whose order and augmentations the next iteration uses. */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader: bad epoch ${epoch}`);
    if (epoch !== this.currentEpoch) this.cachedOrder = null;
    this.currentEpoch = epoch;
  }

  private root(): SeededRng {
    return new SeededRng(this.seed);
  }

  /** The current epoch's sample order. */
  order(): Int32Array {
    if (!this.cachedOrder) {
      const order = this.indices.slice();
      if (this.shuffle) {
        const rng = this.root().fork(`${this.stream}:order:${this.currentEpoch}`);
        for (let i = order.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          const t = order[i];
          order[i] = order[j];
          order[j] = t;
        }
      }
      this.cachedOrder = order;
    }
    return this.cachedOrder;
  }

  /** Batch `b` of the current epoch as plain arrays (no tensors). */
  batchArrays(b: number): BatchArrays {
    if (!Number.isInteger(b) || b < 0 || b >= this.length) {
      throw new RangeError(`DataLoader: batch ${b} out of range [0, ${this.length})`);
    }
    const { height: h, width: w, channels: c, images, labels } = this.data;
    const per = h * w * c;
    const idx = this.order().subarray(b * this.batchSize, Math.min((b + 1) * this.batchSize, this.size));
    const n = idx.length;
    const raw = new Uint8Array(n * per);
    const y = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = idx[k];
      raw.set(images.subarray(i * per, (i + 1) * per), k * per);
      y[k] = labels[i];
    }
    const rng = this.root().fork(`${this.stream}:aug:${this.currentEpoch}:${b}`);
    const x = transformBatch(raw, { n, h, w, c }, this.transform, rng);
    return { x, y, shape: [n, h, w, c], indices: idx.slice() };
  }

  /** Batch `b` of the current epoch as tensors; dispose `x` and `y` when done. */
  batch(b: number): Batch {
    const a = this.batchArrays(b);
    return { x: tf.tensor4d(a.x, a.shape, 'float32'), y: tf.tensor1d(a.y, 'int32'), indices: a.indices };
  }

  /** The current epoch's batches from batch `from` on; dispose each batch's tensors. */
  *batches(from = 0): Generator<Batch, void, undefined> {
    for (let b = from; b < this.length; b++) yield this.batch(b);
  }

  [Symbol.iterator](): Iterator<Batch> {
    return this.batches(0);
  }
}
