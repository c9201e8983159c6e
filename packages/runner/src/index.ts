export { type ArchEdgeRecord, ArchHistory, type ArchHistoryRecord, archSnapshot } from './arch-history.js';
export { algoProfile, BASE_PROFILE, datasetProfile, loadRunConfig, type ProfileKind } from './config.js';
export { UsageError } from './errors.js';
export {
  createRunContainer,
  ExperimentRunner,
  resolveTemplate,
  type RunOptions,
  type Summary,
} from './experiment.js';
export {
  DefaultFinalizers,
  type FinalizeContext,
  type Finalizer,
  type FinalizerMaker,
  FinalizerRegistry,
  RandomFinalizers,
} from './finalizers.js';
export { type KeyedEntry, KeyedRegistry } from './keyed-registry.js';
export {
  confModelDesc,
  loadData,
  type Phase,
  type PhaseContext,
  type PostTrainSection,
  postTrainSection,
  type RunEvent,
  trainerConf,
} from './context.js';
export { type EvalResult, Evaluater, Searcher, type SearchResult, writeCellPictures } from './phases.js';
export {
  type AlgoPlugin,
  type AlgoSource,
  type ClassOrInstance,
  defineAlgo,
  type SectionSchema,
} from './plugin.js';
export {
  AlgoRegistry,
  builtinSource,
  findPackageDir,
  loadPluginPackage,
  scanInstalledPlugins,
} from './registry.js';
export {
  type ModelRecipeOptions,
  type ModelReplicaArgs,
  modelReplicaRecipe,
  opNamesOf,
  pluginModulesFor,
} from './replica-recipe.js';
export {
  ARCH_TRAINER,
  type ArchTrainerClass,
  EVALUATER,
  FINALIZERS,
  MODEL_DESC_BUILDER,
  SEARCHER,
  TRAINER,
  type TrainerClass,
  TRIAL_EXECUTOR,
} from './tokens.js';
export {
  InProcessTrialExecutor,
  runTrial,
  saveTrialResult,
  storedTrialResult,
  type Trial,
  type TrialExecutor,
  type TrialResult,
} from './trials.js';
export {
  type CombinationRow,
  type CombinationsConf,
  type CombinationsTable,
  combinationsConf,
  macroPoints,
  searchCombinations,
} from './combinations.js';
export { evaluateSeeds, mean, parseSeeds, type SeedEval, type SeedsEvalResult, sampleStd } from './seeds.js';
export { versions } from './versions.js';
