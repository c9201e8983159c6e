import type { DatasetMeta, DatasetProvider, LoadOptions } from '../provider.js';
import { type CifarFormat, readCifarBinary } from '../readers/cifar.js';
import { findDataFile, resolveStorage } from '../resolve.js';
import type { LoadedSplit } from '../types.js';

/** CIFAR-10 / CIFAR-100 in the "binary version" layout. */
export class CifarProvider implements DatasetProvider {
  constructor(
    readonly meta: DatasetMeta,
    readonly format: CifarFormat,
  ) {
    if (!meta.storage) throw new Error(`CifarProvider ${meta.name} needs storage`);
  }

  async load(opts: LoadOptions): Promise<LoadedSplit> {
    const storage = this.meta.storage!;
    const { dir, origin } = resolveStorage(this.meta.name, storage, opts);
    const files = storage.files[opts.split].map((f) => findDataFile(dir, f)!);
    const set = await readCifarBinary(files, this.format);
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
