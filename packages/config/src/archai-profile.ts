// Archai profiles (its `config_used.yaml`, or its confs/algos/*.yaml) as tsnas profiles. The two
// share Archai's key names, so most keys mean the same thing in both. The Archai keys tsnas does not
// read (torch/apex settings, file paths, pareto search, autoaug, ...) pass through untouched, as any
// unknown key does (plug-ins may read them), and are listed in one warning. The few whose value
// would mislead tsnas are dropped or replaced.
import type { SourceMap } from './sourceMap.js';
import { type ConfigTree, formatKeyPath, isMapping, type KeySegment } from './tree.js';

/**
 * Keys that only Archai's profiles have: confs/algos/darts.yaml, which every Archai algorithm
 * profile includes, sets them, so every config_used.yaml has them; tsnas profiles do not. Any one
 * marks a file as Archai's. (`common.apex` is not one: tsnas profiles laid out after Archai's
 * sometimes keep it.) Recognising the file beats a format flag that every caller must pass.
 */
const ARCHAI_ONLY_KEYS: readonly string[] = [
  'common.experiment_name',
  'common.log_prefix',
  'common.tb_enable',
  'common.yaml_log',
  'autoaug',
];

const MODEL_DESC = [
  'n_reductions',
  'n_cells',
  'max_final_edges',
  'model_post_op',
  'params',
  'aux_weight',
  'aux_tower_stride',
  'model_stems.ops',
  'model_stems.stem_multiplier',
  'model_stems.init_node_ch',
  'cell.n_nodes',
  'cell.cell_post_op',
];
const LOADER = [
  'aug',
  'cutout',
  'load_train',
  'load_test',
  'train_batch',
  'test_batch',
  'val_ratio',
  'val_fold',
];
// decay_bn is not here: tsnas applies `decay` to BatchNorm parameters too.
const OPTIMIZER = ['type', 'lr', 'decay', 'momentum', 'nesterov', 'betas'];
const TRAINER = [
  'title',
  'epochs',
  'batch_chunks',
  'grad_clip',
  'drop_path_prob',
  'aux_weight',
  'l1_alphas',
  'label_smoothing',
  'logger_freq',
  ...OPTIMIZER.map((k) => `optimizer.${k}`),
  ...OPTIMIZER.map((k) => `alpha_optimizer.${k}`),
  'lr_schedule.type',
  'lr_schedule.min_lr',
  'lr_schedule.warmup',
  'validation.freq',
];

/** Key paths tsnas reads with Archai's meaning; the value under each is kept whole. */
const SHARED: ReadonlySet<string> = new Set([
  'common.seed',
  'common.resume',
  // common.checkpoint.filename is not shared: Archai's is a torch file ('$expdir/checkpoint.pth').
  'common.checkpoint.freq',
  'dataset.name',
  'dataset.n_classes',
  'dataset.channels',
  'dataset.max_batches',
  'nas.search.finalizer',
  ...MODEL_DESC.map((k) => `nas.search.model_desc.${k}`),
  ...MODEL_DESC.map((k) => `nas.eval.model_desc.${k}`),
  ...LOADER.map((k) => `nas.search.loader.${k}`),
  ...LOADER.map((k) => `nas.eval.loader.${k}`),
  ...TRAINER.map((k) => `nas.search.trainer.${k}`),
  ...TRAINER.map((k) => `nas.eval.trainer.${k}`),
  ...TRAINER.map((k) => `nas.search.post_train.trainer.${k}`),
  ...LOADER.map((k) => `nas.search.post_train.loader.${k}`),
]);

const INCLUDE = '__include__';
const COPY = '_copy';

function has(tree: ConfigTree, path: string): boolean {
  let node: unknown = tree;
  for (const key of path.split('.')) {
    if (!isMapping(node) || !Object.hasOwn(node, key)) return false;
    node = node[key];
  }
  return true;
}

/** True when a profile file's own keys show that Archai wrote it (see ARCHAI_ONLY_KEYS). */
export function isArchaiProfile(tree: ConfigTree): boolean {
  return ARCHAI_ONLY_KEYS.some((path) => has(tree, path));
}

export interface ArchaiProfileMapping {
  /** Key paths tsnas does not read, shortest first: a section with none it reads is one entry. */
  ignored: string[];
  /** Key paths removed because their Archai value would mislead tsnas. */
  dropped: string[];
}

/**
 * Maps an Archai profile tree onto tsnas's, in place (with its source locations):
 * - `dataset.dataroot` is dropped: Archai's is a folder of torch datasets or `$default_dataroot`;
 *   tsnas finds its datasets itself (--dataroot, TSNAS_DATAROOT, its cache);
 * - the resolved copies of `/dataset` under `nas` (loader.dataset, model_desc.dataset) become
 *   `_copy: /dataset`, as in tsnas profiles, so they follow the dataset (and carry no dataroot);
 * - every other key stays, and the ones tsnas does not read are returned in `ignored`.
 */
export function mapArchaiProfile(tree: ConfigTree, sources?: SourceMap): ArchaiProfileMapping {
  const dropped: string[] = [];
  const dataset = tree.dataset;
  if (isMapping(dataset) && Object.hasOwn(dataset, 'dataroot')) {
    delete dataset.dataroot;
    sources?.deleteUnder(['dataset', 'dataroot']);
    dropped.push('dataset.dataroot');
  }
  const ignored: string[] = [];
  const walk = (node: ConfigTree, path: KeySegment[]): void => {
    for (const key of Object.keys(node)) {
      const childPath = [...path, key];
      const dotted = childPath.join('.');
      const value = node[key];
      if ((path.length === 0 && key === INCLUDE) || SHARED.has(dotted)) continue;
      if (path[0] === 'nas' && key === 'dataset' && isMapping(value)) {
        if (!Object.hasOwn(value, COPY)) {
          node[key] = { [COPY]: '/dataset' };
          sources?.deleteUnder(childPath);
        }
        continue;
      }
      if (isMapping(value) && [...SHARED].some((p) => p.startsWith(`${dotted}.`))) walk(value, childPath);
      else ignored.push(formatKeyPath(childPath));
    }
  };
  walk(tree, []);
  return { ignored: [...dropped, ...ignored], dropped };
}

/** The one warning for an Archai profile: which file, and every key tsnas does not use. */
export function archaiProfileWarning(file: string, mapping: ArchaiProfileMapping): string {
  const dropped = mapping.dropped.length > 0 ? ` (${mapping.dropped.join(', ')} removed)` : '';
  return `${file}: read as an Archai profile; tsnas ignores ${mapping.ignored.length} of its keys${dropped}: ${mapping.ignored.join(', ')}`;
}
