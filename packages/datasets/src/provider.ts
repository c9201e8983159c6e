import type { ResolveOptions, StorageSpec } from './resolve.js';
import type { AugSpec } from './transforms.js';
import type { LoadedSplit, Split } from './types.js';

/** What the rest of the system needs to know about a dataset before loading it. */
export interface DatasetMeta {
  name: string;
  channels: number;
  nClasses: number;
  /** [height, width]. */
  imageSize: [number, number];
  /** Per-channel normalisation constants (Archai's, reference §9). */
  mean: number[];
  std: number[];
  /** Training augmentation used when the loader's `aug` is '' (Archai: the provider's transforms). */
  trainAug: AugSpec;
  /** Where the files live; absent for generated datasets. */
  storage?: StorageSpec;
}

export interface LoadOptions extends ResolveOptions {
  split: Split;
  /** The config's `dataset` section; providers read their own extra keys from it. */
  options?: Record<string, unknown>;
  /** Key path of `options` in the config, for error messages (default 'dataset'). */
  optionsPath?: string;
}

/** A dataset: its metadata and a way to load a split. */
export interface DatasetProvider {
  readonly meta: DatasetMeta;
  load(opts: LoadOptions): Promise<LoadedSplit>;
}
