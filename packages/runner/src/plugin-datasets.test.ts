// A plug-in's `datasets`: registered in the run's dataset registry under the plug-in's package, read
// by the run when the profile or --dataset names one, a clash with another owner's name an error
// naming both, and an unknown name answered with the known ones, the plug-in's included.
import 'reflect-metadata';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DATASET_REGISTRY,
  type DatasetProvider,
  type DatasetRegistry,
  type LoadedSplit,
  NO_AUG,
  type Split,
} from '@tsnas/datasets';
import {
  type BuiltNodes,
  ConvMacroParams,
  EdgeDesc,
  ModelDescBuilder,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from '@tsnas/descs';
import { Trainer } from '@tsnas/trainer';
import { describe, expect, it } from 'vitest';
import { createRunContainer, ExperimentRunner } from './experiment.js';
import type { RunEvent } from './context.js';
import { type AlgoSource, defineAlgo, installPlugin } from './plugin.js';

const CLASSES = 3;
const SIZE = 4;
const COUNTS: Record<Split, number> = { train: 24, test: 12 };

/** 4x4 greyscale images, class k a flat grey of level 60 + 60k with a little per-pixel jitter. */
class LevelsProvider implements DatasetProvider {
  readonly meta = {
    name: 'levels',
    channels: 1,
    nClasses: CLASSES,
    imageSize: [SIZE, SIZE] as [number, number],
    mean: [0.47],
    std: [0.2],
    trainAug: NO_AUG,
  };
  loads: Split[] = [];

  async load({ split }: { split: Split }): Promise<LoadedSplit> {
    this.loads.push(split);
    const count = COUNTS[split];
    const labels = new Uint8Array(count).map((_, i) => i % CLASSES);
    const images = new Uint8Array(count * SIZE * SIZE).map((_, p) => {
      const label = labels[Math.floor(p / (SIZE * SIZE))];
      return 60 + 60 * label + (p % 5);
    });
    return {
      images,
      labels,
      count,
      height: SIZE,
      width: SIZE,
      channels: 1,
      name: 'levels',
      split,
      nClasses: CLASSES,
      mean: this.meta.mean,
      std: this.meta.std,
      origin: 'generated',
      dir: '',
    };
  }
}

/** Every node reads states i and i + 1 through a skip connection (trained by the plain Trainer). */
class SkipBuilder extends ModelDescBuilder {
  override buildNodes(
    _stemShapes: TensorShapes,
    _confCell: unknown,
    _cellIndex: number,
    _cellType: unknown,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): BuiltNodes {
    const c = outShape[0];
    const nodes = Array.from(
      { length: nodeCount },
      (_, i) =>
        new NodeDesc(
          [i, i + 1].map(
            (j) =>
              new EdgeDesc(new OpDesc('skip_connect', { conv: new ConvMacroParams(c, c), stride: 1 }, 1), [
                j,
              ]),
          ),
          new ConvMacroParams(inShape[0], c),
        ),
    );
    return { nodeShapes: nodes.map(() => [...outShape]), nodes };
  }
}

// The plug-in's profile picks its dataset and gives the network its classes and channels.
const PROFILE = `
dataset: { name: levels, n_classes: ${CLASSES}, channels: 1 }
nas:
  search:
    model_desc:
      n_reductions: 0
      n_cells: 1
      model_stems: { init_node_ch: 4 }
      cell: { n_nodes: 1 }
    loader: { train_batch: 8, test_batch: 12, val_ratio: 0.5 }
    trainer: { epochs: 1, logger_freq: 0, validation: { freq: 0 } }
common: { workers: 1 }
`;

function source(
  packageName: string,
  datasets: Record<string, DatasetProvider>,
  profile = PROFILE,
): AlgoSource {
  const dir = mkdtempSync(join(tmpdir(), 'tsnas-plugin-datasets-'));
  const config = join(dir, 'levels-algo.yaml');
  writeFileSync(config, profile);
  const plugin = defineAlgo({
    name: 'levels-algo',
    config,
    builder: new SkipBuilder(),
    archTrainer: Trainer,
    datasets,
  });
  return { plugin, packageName, version: '1.0.0', origin: 'installed' };
}

const search = (algo: AlgoSource, dataset?: string) => {
  const expDir = mkdtempSync(join(tmpdir(), 'tsnas-plugin-datasets-run-'));
  const events: RunEvent[] = [];
  const run = new ExperimentRunner().run({
    algo,
    expDir,
    cwd: expDir,
    backend: 'cpu',
    searchOnly: true,
    ...(dataset ? { dataset } : {}),
    onEvent: (e) => events.push(e),
  });
  return { run, events };
};

describe("a plug-in's datasets", () => {
  it('are read by a run that names them, in the profile or with --dataset', async () => {
    for (const dataset of [undefined, 'levels']) {
      const levels = new LevelsProvider();
      const { run, events } = search(source('tsnas-algo-levels', { levels }), dataset);
      const { summary } = await run;
      expect(summary.dataset).toBe('levels');
      expect(levels.loads).toContain('train');
      const loaded = events.flatMap((e) => (e.kind === 'dataset' ? [e] : []));
      expect(loaded.map((e) => [e.name, e.split, e.samples])).toContainEqual([
        'levels',
        'train',
        COUNTS.train,
      ]);
      expect(summary.search?.supernet_params).toBeGreaterThan(0);
    }
  }, 60_000);

  it("are registered in the run's own registry, owned by the plug-in's package", () => {
    const levels = new LevelsProvider();
    const c = createRunContainer(source('tsnas-algo-levels', { levels }), {} as never);
    const registry = c.resolve<DatasetRegistry>(DATASET_REGISTRY);
    expect(registry.get('levels')).toBe(levels);
    expect(registry.ownerOf('levels')).toBe('tsnas-algo-levels');
    expect(registry.ownerOf('cifar10')).toBe('@tsnas/datasets');
    // Another run's registry holds only the built-ins.
    expect(createRunContainer(null).resolve<DatasetRegistry>(DATASET_REGISTRY).has('levels')).toBe(false);
  });

  it('may not claim a name another package registered: the error names both owners', async () => {
    const c = createRunContainer(source('tsnas-algo-levels', { levels: new LevelsProvider() }), {} as never);
    const clash = () => installPlugin(c, source('tsnas-algo-other', { levels: new LevelsProvider() }));
    expect(clash).toThrow(
      "dataset 'levels' is registered twice: by tsnas-algo-levels and by tsnas-algo-other (plug-in 'levels-algo')",
    );
    expect(clash).toThrow(expect.objectContaining({ exitCode: 2 }));

    // A built-in's name, in a run: the user sees it as a usage error (exit 2).
    const { run } = search(source('tsnas-algo-shadow', { cifar10: new LevelsProvider() }));
    await expect(run).rejects.toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: expect.stringContaining(
          "dataset 'cifar10' is registered twice: by @tsnas/datasets and by tsnas-algo-shadow",
        ),
      }),
    );
  });

  it('are listed among the known names when a run names an unknown dataset', async () => {
    const { run } = search(source('tsnas-algo-levels', { levels: new LevelsProvider() }), 'levles');
    await expect(run).rejects.toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: expect.stringMatching(/Unknown dataset 'levles'.*\blevels\b/),
      }),
    );
  }, 30_000);
});
