import { confBool, confInt, confNumber, confObject, confString } from './conf.js';
import { DatasetError } from './errors.js';
import { DataLoader } from './loader.js';
import { createDatasetRegistry, type DatasetRegistry } from './registry.js';
import { type ResolvedDataset, type ResolveOptions, resolveStorage } from './resolve.js';
import { SPLIT_SEED, stratifiedSplit, stratifiedSubset } from './split.js';
import { type AugSpec, NO_AUG, type TransformSpec } from './transforms.js';
import type { DatasetOrigin, LoadedSplit, Split } from './types.js';

/** Archai-style `loader` section. Keys not listed (train_workers, cv_num, ...) are ignored. */
export interface LoaderConf {
  /** `embedded: true` loads the copy shipped in the package (fashion_mnist) whatever else is installed. */
  dataset: {
    name: string;
    max_batches?: number;
    dataroot?: string;
    embedded?: boolean;
    [key: string]: unknown;
  };
  train_batch?: number;
  test_batch?: number;
  val_ratio?: number;
  val_fold?: number;
  load_train?: boolean;
  load_test?: boolean;
  cutout?: number;
  /** '' = the dataset's own training augmentation; 'none'; or tokens crop, flip|hflip, vflip, crop_flip joined by '+'. */
  aug?: string;
  /** Padding of the random crop, overriding the dataset's (4 for CIFAR, 2 for MNIST-like). */
  crop_padding?: number;
  [key: string]: unknown;
}

/** A line for the run log: which split was loaded from where. */
export interface DataLogEvent {
  event: 'dataset';
  name: string;
  split: Split;
  origin: DatasetOrigin;
  dir: string;
  samples: number;
}

export interface GetDataOptions extends ResolveOptions {
  /** Providers to use (default: a fresh registry of the built-ins). */
  registry?: DatasetRegistry;
  /** Seeds the per-epoch order and augmentations (the run's seed; default 0). */
  seed?: number;
  /** Seeds the train/val split and the max_batches subsets (default 0, as Archai). */
  splitSeed?: number;
  /** Key path of the loader section, for error messages (default 'loader'). */
  confPath?: string;
  log?: (event: DataLogEvent) => void;
}

export interface DataLoaders {
  train: DataLoader | null;
  val: DataLoader | null;
  test: DataLoader | null;
  /** What was loaded and from where. */
  dataset: {
    name: string;
    origin: DatasetOrigin;
    dir: string;
    nClasses: number;
    channels: number;
    height: number;
    width: number;
    mean: number[];
    std: number[];
  };
}

const AUTOAUGMENT = new Set([
  'fa_reduced_cifar10',
  'fa_reduced_imagenet',
  'fa_reduced_svhn',
  'arsaug',
  'autoaug_cifar10',
  'autoaug_extend',
]);

/**
 * Parses `loader.aug`. '' keeps the dataset's own training augmentation (Archai always applies the
 * provider's transforms; `aug` only adds a policy); 'none' turns augmentation off.
 */
export function parseAug(
  aug: string,
  datasetDefault: AugSpec,
  cropPadding: number,
  path = 'loader.aug',
): AugSpec {
  const tokens = aug
    .split(/[+,\s]+/)
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  if (tokens.length === 0) return datasetDefault;
  const spec: AugSpec = { ...NO_AUG };
  for (const t of tokens) {
    if (t === 'none') continue;
    if (t === 'default') Object.assign(spec, datasetDefault);
    else if (t === 'crop') spec.crop = cropPadding;
    else if (t === 'flip' || t === 'hflip') spec.hflip = true;
    else if (t === 'vflip') spec.vflip = true;
    else if (t === 'crop_flip') {
      spec.crop = cropPadding;
      spec.hflip = true;
    } else if (AUTOAUGMENT.has(t)) {
      throw new DatasetError(
        'E_CONFIG',
        `${path}: the AutoAugment policy '${t}' is not implemented in tsnas.`,
      );
    } else {
      throw new DatasetError(
        'E_CONFIG',
        `${path}: unknown augmentation '${t}'; expected '' (dataset default), none, default, crop, flip, hflip, vflip or crop_flip, joined by '+'.`,
      );
    }
  }
  return spec;
}

/**
 * Where dataset `name` would be loaded from (see resolveStorage for the order). Generated datasets
 * resolve to `{ dir: '', origin: 'generated' }`.
 */
export function resolveDataset(
  name: string,
  opts: ResolveOptions & { registry?: DatasetRegistry } = {},
): ResolvedDataset {
  const provider = (opts.registry ?? createDatasetRegistry()).get(name);
  if (!provider.meta.storage) return { dir: '', origin: 'generated' };
  return resolveStorage(name, provider.meta.storage, opts);
}

/**
 * Builds the train / val / test loaders of an Archai-style loader section, as Archai's `get_data`:
 * val (when val_ratio > 0) is a stratified part of the train set split with a fixed seed, and
 * is served, like train, shuffled and with the training transforms (both come from the train set);
 * test is unshuffled and only normalised. `dataset.max_batches >= 0` keeps a stratified
 * `max_batches * batch` samples of each. The caller calls `setEpoch(e)` on train and val each epoch.
 */
export async function getData(confLoader: LoaderConf, opts: GetDataOptions = {}): Promise<DataLoaders> {
  const path = opts.confPath ?? 'loader';
  if (typeof confLoader !== 'object' || confLoader === null) {
    throw new DatasetError('E_CONFIG', `${path}: expected a mapping, got ${JSON.stringify(confLoader)}.`);
  }
  const conf = confLoader as Record<string, unknown>;
  const dsConf = confObject(conf, 'dataset', path);
  const dsPath = `${path}.dataset`;
  const name = confString(dsConf, 'name', dsPath, '');
  if (!name) throw new DatasetError('E_CONFIG', `${dsPath}.name: expected a dataset name, got nothing.`);
  const registry = opts.registry ?? createDatasetRegistry();
  const provider = registry.get(name);
  const maxBatches = confInt(dsConf, 'max_batches', dsPath, -1, -1);
  const trainBatch = confInt(conf, 'train_batch', path, 64, 1);
  const testBatch = confInt(conf, 'test_batch', path, 1024, 1);
  const valRatio = confNumber(conf, 'val_ratio', path, 0, 0, 1);
  const valFold = confInt(conf, 'val_fold', path, 0, 0);
  const loadTrain = confBool(conf, 'load_train', path, true);
  const loadTest = confBool(conf, 'load_test', path, true);
  const cutout = confInt(conf, 'cutout', path, 0, 0);
  const defaultPad = provider.meta.trainAug.crop || (provider.meta.imageSize[0] >= 32 ? 4 : 2);
  const cropPadding = confInt(conf, 'crop_padding', path, defaultPad, 0);
  const baseAug = { ...provider.meta.trainAug, crop: provider.meta.trainAug.crop ? cropPadding : 0 };
  const aug = parseAug(confString(conf, 'aug', path, ''), baseAug, cropPadding, `${path}.aug`);
  const dataroot = opts.dataroot || confString(dsConf, 'dataroot', dsPath, '') || undefined;
  const useEmbedded = opts.useEmbedded ?? confBool(dsConf, 'embedded', dsPath, false);
  const seed = opts.seed ?? 0;
  const splitSeed = opts.splitSeed ?? SPLIT_SEED;

  const load = async (split: Split): Promise<LoadedSplit> => {
    const data = await provider.load({
      ...opts,
      dataroot,
      useEmbedded,
      split,
      options: dsConf,
      optionsPath: dsPath,
    });
    opts.log?.({ event: 'dataset', name, split, origin: data.origin, dir: data.dir, samples: data.count });
    return data;
  };
  const limit = (data: LoadedSplit, indices: Int32Array, batch: number) =>
    maxBatches < 0 ? indices : stratifiedSubset(data.labels, indices, maxBatches * batch, splitSeed);

  let train: DataLoader | null = null;
  let val: DataLoader | null = null;
  let test: DataLoader | null = null;
  let info: LoadedSplit | null = null;

  if (loadTrain) {
    const data = await load('train');
    info = data;
    const trainSpec: TransformSpec = { mean: data.mean, std: data.std, aug, cutout };
    let trainIdx: Int32Array = Int32Array.from({ length: data.count }, (_, i) => i);
    let valIdx: Int32Array | null = null;
    if (valRatio > 0) {
      try {
        const s = stratifiedSplit(data.labels, { valRatio, seed: splitSeed, fold: valFold });
        trainIdx = s.train;
        valIdx = s.val;
      } catch (err) {
        if (err instanceof DatasetError)
          throw new DatasetError('E_CONFIG', `${path}: ${err.message}`, { cause: err });
        throw err;
      }
    }
    const mk = (indices: Int32Array, stream: string) =>
      new DataLoader(data, {
        batchSize: trainBatch,
        transform: trainSpec,
        shuffle: true,
        seed,
        stream,
        indices: limit(data, indices, trainBatch),
      });
    train = mk(trainIdx, 'train');
    if (valIdx) val = mk(valIdx, 'val');
  }
  if (loadTest) {
    const data = await load('test');
    info ??= data;
    const testSpec: TransformSpec = { mean: data.mean, std: data.std, aug: NO_AUG, cutout: 0 };
    const all = Int32Array.from({ length: data.count }, (_, i) => i);
    test = new DataLoader(data, {
      batchSize: testBatch,
      transform: testSpec,
      shuffle: false,
      seed,
      stream: 'test',
      indices: limit(data, all, testBatch),
    });
  }
  if (!info) {
    throw new DatasetError('E_CONFIG', `${path}: load_train and load_test are both false; nothing to load.`);
  }
  return {
    train,
    val,
    test,
    dataset: {
      name,
      origin: info.origin,
      dir: info.dir,
      nClasses: info.nClasses,
      channels: info.channels,
      height: info.height,
      width: info.width,
      mean: info.mean,
      std: info.std,
    },
  };
}
