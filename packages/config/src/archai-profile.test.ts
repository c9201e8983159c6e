import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isArchaiProfile, mapArchaiProfile } from './archai-profile.js';
import { PROFILE_FILES } from './__tests__/archaiProfile.js';
import { removeWrittenFiles, writeFiles } from './__tests__/tmpFiles.js';
import { loadConfig, loadConfigSync } from './load.js';
import { tsnasProfileSchema } from './schema.js';

afterAll(removeWrittenFiles);

// A config_used.yaml as Archai writes it into an experiment folder: confs/algos/darts.yaml with
// its includes merged and every _copy resolved, keys sorted (yaml.dump), seed and epochs changed.
const CONFIG_USED = readFileSync(
  fileURLToPath(new URL('./__tests__/fixtures/archai/config_used.yaml', import.meta.url)),
  'utf8',
);

// What tsnas does not read in that file, section by section.
const IGNORED = [
  'dataset.dataroot',
  'autoaug',
  'common.apex',
  'common.backup_existing_log_file',
  'common.checkpoint.filename',
  'common.experiment_desc',
  'common.experiment_name',
  'common.log_level',
  'common.log_prefix',
  'common.logdir',
  'common.only_eval',
  'common.redis',
  'common.smoke_test',
  'common.tb_dir',
  'common.tb_enable',
  'common.yaml_log',
  'dataset.storage_name',
  'nas.eval.checkpoint',
  'nas.eval.data_parallel',
  'nas.eval.final_desc_filename',
  'nas.eval.full_desc_filename',
  'nas.eval.loader.apex',
  'nas.eval.loader.cv_num',
  'nas.eval.loader.test_workers',
  'nas.eval.loader.train_workers',
  'nas.eval.metric_filename',
  'nas.eval.model_factory_spec',
  'nas.eval.model_filename',
  'nas.eval.resume',
  'nas.eval.trainer.apex',
  'nas.eval.trainer.lossfn',
  'nas.eval.trainer.optimizer.decay_bn',
  'nas.eval.trainer.validation.batch_chunks',
  'nas.eval.trainer.validation.logger_freq',
  'nas.eval.trainer.validation.lossfn',
  'nas.eval.trainer.validation.title',
  'nas.search.checkpoint',
  'nas.search.data_parallel',
  'nas.search.final_desc_filename',
  'nas.search.full_desc_filename',
  'nas.search.loader.apex',
  'nas.search.loader.cv_num',
  'nas.search.loader.test_workers',
  'nas.search.loader.train_workers',
  'nas.search.metrics_dir',
  'nas.search.pareto',
  'nas.search.resume',
  'nas.search.search_iters',
  'nas.search.seed_train',
  'nas.search.trainer.alpha_lr_schedule',
  'nas.search.trainer.alpha_optimizer.decay_bn',
  'nas.search.trainer.apex',
  'nas.search.trainer.lossfn',
  'nas.search.trainer.optimizer.decay_bn',
  'nas.search.trainer.plotsdir',
  'nas.search.trainer.validation.batch_chunks',
  'nas.search.trainer.validation.logger_freq',
  'nas.search.trainer.validation.lossfn',
  'nas.search.trainer.validation.title',
];

describe('Archai profiles', () => {
  it('are recognised by keys only Archai profiles have', () => {
    expect(isArchaiProfile(parse(CONFIG_USED))).toBe(true);
    expect(isArchaiProfile({ common: { experiment_name: 'x' } })).toBe(true);
    expect(isArchaiProfile({ autoaug: {} })).toBe(true);
    // A tsnas profile laid out after Archai's, apex section included, is not one.
    expect(isArchaiProfile(parse(PROFILE_FILES['configs/base.yaml']))).toBe(false);
    expect(isArchaiProfile({ common: { seed: 1 }, nas: {} })).toBe(false);
  });

  it('lists every key tsnas ignores, a section tsnas does not read as one entry', () => {
    const tree = parse(CONFIG_USED);
    const mapping = mapArchaiProfile(tree);
    expect(new Set(mapping.ignored)).toEqual(new Set(IGNORED));
    expect(mapping.ignored).toHaveLength(IGNORED.length);
    expect(mapping.dropped).toEqual(['dataset.dataroot']);
    // Shared keys are kept as they are; ignored ones stay for plug-ins; dataset copies follow /dataset.
    expect(tree.common.seed).toBe(5);
    expect(tree.common.apex.enabled).toBe(false);
    expect(tree.dataset).toEqual({
      channels: 3,
      max_batches: -1,
      n_classes: 10,
      name: 'cifar10',
      storage_name: 'cifar-10-batches-py',
    });
    expect(tree.nas.eval.loader.dataset).toEqual({ _copy: '/dataset' });
    expect(tree.nas.search.model_desc.dataset).toEqual({ _copy: '/dataset' });
  });

  it('load on top of the tsnas profiles with one warning, validating and resolving like any profile', async () => {
    const dir = writeFiles({ ...PROFILE_FILES, 'exp/config_used.yaml': CONFIG_USED });
    const warnings: string[] = [];
    const config = await loadConfig(['configs/algos/darts.yaml', 'exp/config_used.yaml'], {
      cwd: dir,
      schema: tsnasProfileSchema,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `config_used\\.yaml: read as an Archai profile; tsnas ignores ${IGNORED.length} of its keys \\(dataset\\.dataroot removed\\): dataset\\.dataroot, autoaug, common\\.apex, `,
      ),
    );
    expect(warnings[0]).not.toMatch(/common\.seed|nas\.search\.trainer\.epochs|model_stems/);
    expect(config.warnings).toEqual(warnings);

    const tree = config.tree as any;
    expect(tree.common.seed).toBe(5);
    expect(tree.dataset.name).toBe('cifar10');
    // The fashion_mnist profile's dataroot is replaced by nothing: Archai's was dropped, not merged.
    expect(tree.dataset.dataroot).toBe('$default_dataroot');
    expect(tree.nas.search.trainer.epochs).toBe(3);
    expect(tree.nas.search.trainer.optimizer).toMatchObject({ type: 'sgd', lr: 0.025, momentum: 0.9 });
    expect(tree.nas.eval.model_desc.model_stems).toEqual({
      init_node_ch: 36,
      ops: ['stem_conv3x3', 'stem_conv3x3'],
      stem_multiplier: 3,
    });
    // Copies of /dataset resolve to the merged dataset, so they agree with it.
    expect(tree.nas.eval.loader.dataset).toEqual(tree.dataset);
    expect(tree.nas.search.model_desc.dataset.channels).toBe(3);
    // Where the kept values came from is still known.
    expect(config.locate('nas.search.trainer.epochs')?.file).toMatch(/config_used\.yaml$/);
  });

  it('warn from loadConfigSync too; tsnas profiles give no warning', () => {
    const dir = writeFiles({ ...PROFILE_FILES, 'config_used.yaml': CONFIG_USED });
    const warnings: string[] = [];
    loadConfigSync(['configs/algos/darts.yaml', 'config_used.yaml'], {
      cwd: dir,
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toHaveLength(1);
    const none: string[] = [];
    const plain = loadConfigSync(join(dir, 'configs/algos/darts.yaml'), { onWarning: (m) => none.push(m) });
    expect(none).toEqual([]);
    expect(plain.warnings).toEqual([]);
  });
});
