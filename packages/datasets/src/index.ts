export { type DatasetErrorCode, DatasetError } from './errors.js';
export type { DatasetOrigin, ImageSet, Labels, LoadedSplit, Split } from './types.js';
export { isGzip, readMaybeGzip } from './readers/file.js';
export {
  checkLabels,
  type IdxArray,
  type IdxData,
  type IdxDtype,
  parseIdx,
  readIdx,
  readIdxImageSet,
} from './readers/idx.js';
export {
  CIFAR10_FORMAT,
  CIFAR100_FORMAT,
  type CifarFormat,
  concatImageSets,
  parseCifarBinary,
  readCifarBinary,
} from './readers/cifar.js';
export {
  type AugSpec,
  type BatchShape,
  cropWithPadding,
  cutoutAt,
  flipHorizontal,
  flipVertical,
  NO_AUG,
  normalize,
  randomCrop,
  randomCutout,
  randomFlipHorizontal,
  randomFlipVertical,
  type TransformSpec,
  transformBatch,
} from './transforms.js';
export {
  allocate,
  indicesByClass,
  SPLIT_SEED,
  type StratifiedSplitOptions,
  stratifiedSplit,
  stratifiedSubset,
} from './split.js';
export { type Batch, type BatchArrays, DataLoader, type DataLoaderOptions } from './loader.js';
export {
  cacheDataroot,
  DATAROOT_ENV,
  DEFAULT_SYSTEM_DIRS,
  findDataFile,
  type LookedPlace,
  type ResolvedDataset,
  type ResolveOptions,
  resolveStorage,
  type StorageSpec,
} from './resolve.js';
export type { DatasetMeta, DatasetProvider, LoadOptions } from './provider.js';
export { EMBEDDED_FASHION_MNIST_DIR } from './embedded.js';
export { IdxProvider, MNIST_FILES } from './providers/idx.js';
export { CifarProvider } from './providers/cifar.js';
export {
  generateSynthetic,
  SYNTHETIC_DEFAULTS,
  type SyntheticOptions,
  SyntheticProvider,
} from './providers/synthetic.js';
export {
  cifar10Provider,
  cifar100Provider,
  fashionMnistProvider,
  mnistProvider,
  syntheticProvider,
} from './providers/builtin.js';
export { BUILTIN_OWNER, createDatasetRegistry, DATASET_REGISTRY, DatasetRegistry } from './registry.js';
export {
  type DataLoaders,
  type DataLogEvent,
  type GetDataOptions,
  getData,
  type LoaderConf,
  parseAug,
  resolveDataset,
} from './data.js';
