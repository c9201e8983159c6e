// The built-in algorithms' profiles as a user gets them: each default and --toy profile layers the
// runner's shared sizes (included by package name) under its own keys, so the three algorithms
// search and evaluate the same networks on the same data and their summaries compare.
import darts from '@tsnas/algo-darts';
import diversity from '@tsnas/algo-diversity';
import random from '@tsnas/algo-random';
import { type AlgoPlugin, loadRunConfig, type ProfileKind } from '@tsnas/runner';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CONFIGS = fileURLToPath(new URL('../../../configs/', import.meta.url));

async function profile(algo: AlgoPlugin, kind: ProfileKind, configFiles: string[] = []) {
  const loaded = await loadRunConfig({
    algo,
    profile: kind,
    configFiles,
    overrides: [],
    cwd: process.cwd(),
    noUserConfig: true,
  });
  return { tree: loaded.tree as any, files: loaded.files };
}

describe('built-in profiles', () => {
  it('the 10-minute defaults share the search supernet, data and evaluation of profiles/embedded.yaml', async () => {
    const [d, r, v] = await Promise.all([darts, random, diversity].map((a) => profile(a, 'default')));
    for (const p of [d, r, v]) {
      expect(p.files.some((f) => f.endsWith('runner/configs/profiles/embedded.yaml'))).toBe(true);
      expect(p.tree.dataset.name).toBe('fashion_mnist');
      expect(p.tree.nas.eval).toEqual(d.tree.nas.eval);
      expect(p.tree.nas.search.model_desc).toEqual(d.tree.nas.search.model_desc);
    }
    expect(d.tree.nas.search.model_desc.n_cells).toBe(3);
    expect(d.tree.nas.eval.model_desc.n_cells).toBe(5);
    expect(d.tree.nas.eval.trainer.epochs).toBe(5);
    expect(d.tree.nas.eval.loader).toMatchObject({ aug: 'none', train_batch: 32 });
    // Random and DivNAS keep the shared short search; DARTS searches the whole sample for 628
    // architecture steps (4 epochs of 157 batches) with no validation pass in between.
    expect(v.tree.nas.search.loader).toEqual(r.tree.nas.search.loader);
    expect(r.tree.nas.search.loader.dataset.max_batches).toBe(16);
    expect({ ...d.tree.nas.search.loader, dataset: r.tree.nas.search.loader.dataset }).toEqual(
      r.tree.nas.search.loader,
    );
    expect(d.tree.nas.search.loader).toMatchObject({
      train_batch: 32,
      val_ratio: 0.5,
      dataset: { max_batches: -1 },
    });
    expect(d.tree.nas.search.trainer).toMatchObject({ epochs: 4, validation: null });
    // What each algorithm adds over the shared sizes.
    expect(d.tree.nas.search.trainer.unrolled).toBe(false);
    expect(r.tree.nas.search.random.samples).toBe(1);
    expect(r.tree.nas.search.post_train.trainer.epochs).toBe(3);
    expect(v.tree.nas.search.finalizer).toBe('mi_ranked');
    expect(v.tree.nas.search.divnas.sigma).toBe('median');
  });

  it('--toy shares profiles/toy.yaml: two batches, one epoch each', async () => {
    for (const algo of [darts, random, diversity]) {
      const { tree, files } = await profile(algo, 'toy');
      expect(files.some((f) => f.endsWith('runner/configs/profiles/toy.yaml'))).toBe(true);
      expect(tree.dataset.max_batches).toBe(2);
      expect(tree.nas.eval.trainer.epochs).toBe(1);
      expect(tree.nas.search.model_desc.cell.n_nodes).toBe(2);
    }
  });

  it('--full stays on Archai paper-scale CIFAR-10 settings', async () => {
    for (const algo of [darts, diversity]) {
      const { tree } = await profile(algo, 'full');
      expect(tree.dataset.name).toBe('cifar10');
      expect(tree.nas.search.trainer.epochs).toBe(50);
      expect(tree.nas.eval.trainer.epochs).toBe(600);
      expect(tree.nas.eval.model_desc.n_cells).toBe(20);
    }
  });
});

describe('configs/ (ready-made profiles of the repository)', () => {
  it('lists exactly the profiles tested here', () => {
    expect(readdirSync(CONFIGS).sort()).toEqual([
      'fashion-mnist-long.yaml',
      'paper-cifar10.yaml',
      'smoke.yaml',
    ]);
  });

  it("paper-cifar10 is --full (Archai's paper sizes, CIFAR-10) plus the paper's BatchNorm after pools", async () => {
    const paper = (await profile(darts, 'default', [join(CONFIGS, 'paper-cifar10.yaml')])).tree;
    const full = (await profile(darts, 'full')).tree;
    // The default profile's `dataset.embedded` (a Fashion-MNIST sample flag, copied into every
    // dataset section) is set to false there; --full never has it.
    expect(paper.dataset.embedded).toBe(false);
    const strip = (o: unknown) => JSON.parse(JSON.stringify(o, (k, v) => (k === 'embedded' ? undefined : v)));
    expect(strip(paper.dataset)).toEqual(full.dataset);
    expect(strip(paper.nas.eval)).toEqual(full.nas.eval);
    const want = structuredClone(full.nas.search);
    want.model_desc.params.pool_bn = true;
    expect(strip(paper.nas.search)).toEqual(want);
    expect(paper.nas.eval.model_desc.n_cells).toBe(20);
    expect(paper.nas.search.trainer.epochs).toBe(50);
  });

  it('smoke gives any algorithm the --toy sizes', async () => {
    for (const algo of [darts, random]) {
      const smoke = await profile(algo, 'default', [join(CONFIGS, 'smoke.yaml')]);
      const toy = await profile(algo, 'toy');
      expect(smoke.tree.nas.search.model_desc).toEqual(toy.tree.nas.search.model_desc);
      expect(smoke.tree.nas.eval.model_desc).toEqual(toy.tree.nas.eval.model_desc);
      expect(smoke.tree.dataset.max_batches).toBe(2);
      expect(smoke.tree.nas.eval.trainer.epochs).toBe(1);
    }
  });

  it('fashion-mnist-long reads the whole data set, not the embedded sample', async () => {
    const { tree } = await profile(darts, 'default', [join(CONFIGS, 'fashion-mnist-long.yaml')]);
    expect(tree.dataset.embedded).toBe(false);
    expect(tree.nas.search.loader.dataset.max_batches).toBe(-1);
    expect(tree.nas.eval.loader.dataset.max_batches).toBe(-1);
    expect(tree.nas.search.trainer.epochs).toBe(10);
    expect(tree.nas.eval.trainer.epochs).toBe(20);
    expect(tree.nas.search.model_desc.n_cells).toBe(3);
  });
});
