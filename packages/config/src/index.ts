export {
  COPY_KEY,
  COPY_PREFIX,
  copyReference,
  resolveCopies,
  resolveCopiesWithSources,
  resolveCopyPath,
} from './copy.js';
export {
  type ArchaiProfileMapping,
  archaiProfileWarning,
  isArchaiProfile,
  mapArchaiProfile,
} from './archai-profile.js';
export { findProjectRoot, findUserConfig, USER_CONFIG_FILES, type UserConfig } from './discover.js';
export { type DumpOptions, dumpConfig } from './dump.js';
export { ConfigError, type ConfigIssue } from './errors.js';
export { type ExpandPathOptions, expandPath } from './expand.js';
export {
  deepUpdate,
  INCLUDE_KEY,
  type LoadedConfig,
  type LoadOptions,
  loadConfig,
  loadConfigSync,
  type ProfileFiles,
  parseProfile,
} from './load.js';
export {
  applyOverrides,
  castOverride,
  type ParsedOverride,
  parseOverride,
  suggestKeyPaths,
} from './overrides.js';
export {
  type CommonSection,
  cellSchema,
  checkpointSchema,
  commonSchema,
  datasetSchema,
  type EvalSection,
  evalSchema,
  type LoaderSection,
  loaderSchema,
  lrScheduleSchema,
  type ModelDescSection,
  modelDescSchema,
  modelStemsSchema,
  optimizerSchema,
  type SearchSection,
  searchSchema,
  type TrainerSection,
  type TsnasProfile,
  trainerSchema,
  tsnasProfileSchema,
  validationSchema,
  warmupSchema,
} from './schema.js';
export {
  displayPath,
  formatLocation,
  type KeyPathLike,
  type SourceLocation,
  SourceMap,
} from './sourceMap.js';
export {
  type ConfigTree,
  type ConfigValue,
  cloneTree,
  formatKeyPath,
  getAt,
  isMapping,
  type KeySegment,
  parseKeyPath,
} from './tree.js';
export { validateConfig } from './validate.js';
