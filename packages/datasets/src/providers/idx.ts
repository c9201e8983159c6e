import { DatasetError } from '../errors.js';
import type { DatasetMeta, DatasetProvider, LoadOptions } from '../provider.js';
import { readIdxImageSet } from '../readers/idx.js';
import { findDataFile, resolveStorage } from '../resolve.js';
import type { LoadedSplit } from '../types.js';

/** The four MNIST file names, shared by MNIST and Fashion-MNIST. */
export const MNIST_FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
};

/** A dataset stored as an MNIST-style pair of IDX files per split. */
export class IdxProvider implements DatasetProvider {
  constructor(readonly meta: DatasetMeta) {
    if (!meta.storage) throw new Error(`IdxProvider ${meta.name} needs storage`);
  }

  async load(opts: LoadOptions): Promise<LoadedSplit> {
    const storage = this.meta.storage!;
    const { dir, origin } = resolveStorage(this.meta.name, storage, opts);
    const [imagesName, labelsName] = storage.files[opts.split];
    const images = findDataFile(dir, imagesName)!;
    const labels = findDataFile(dir, labelsName)!;
    const set = await readIdxImageSet(images, labels, this.meta.nClasses);
    const [h, w] = this.meta.imageSize;
    if (set.height !== h || set.width !== w || set.channels !== this.meta.channels) {
      throw new DatasetError(
        'E_FORMAT',
        `${images}: ${this.meta.name} images should be ${h}x${w}x${this.meta.channels}, found ${set.height}x${set.width}x${set.channels}.`,
      );
    }
    return {
      ...set,
      name: this.meta.name,
      split: opts.split,
      nClasses: this.meta.nClasses,
      mean: this.meta.mean,
      std: this.meta.std,
      origin,
      dir,
    };
  }
}
