// summary.json's search.arch_steps: the architecture (alpha) optimizer steps of a search, counted
// through a crash and resume, and 0 for searches that train no alphas. Tiny runs of test plug-ins
// (the runner cannot depend on the DARTS package): a supernet whose edges blend two primitives by
// softmax(alphas), and an arch trainer taking one Adam step on the alphas per search batch.
import 'reflect-metadata';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  type BuiltNodes,
  type CellType,
  CellType as CellTypes,
  type ConfCell,
  ConvMacroParams,
  EdgeDesc,
  ModelDescBuilder,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from '@tsnas/descs';
import {
  type ArchParams,
  type CreateOp,
  type FinalizedOp,
  ModuleList,
  Op,
  type WeightedOp,
} from '@tsnas/ops';
import { type Batch, createOptimizer, Trainer } from '@tsnas/trainer';
import { describe, expect, it } from 'vitest';
import { ExperimentRunner, type Summary } from './experiment.js';
import { type AlgoSource, defineAlgo } from './plugin.js';

const BLENDED = ['skip_connect', 'avg_pool_3x3'];

/** sum_k softmax(alphas)_k * op_k(x): a two-primitive mixed op, alphas shared by cells of a type. */
class Blend extends Op {
  private readonly children: ModuleList<Op>;
  private readonly alphas: tf.Variable;

  constructor(desc: OpDesc, archParams: ArchParams | null, create: CreateOp) {
    super(desc);
    this.children = this.addChild('ops', new ModuleList<Op>());
    for (const name of BLENDED) {
      const params = { conv: desc.params.conv?.clone(), stride: desc.params.stride ?? 1 };
      this.children.push(create(new OpDesc(name, params, 1), false, null));
    }
    const params = archParams
      ? this.useArchParams(archParams)
      : this.createArchParams({ alphas: tf.zeros([BLENDED.length]) });
    this.alphas = params.get('alphas');
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = Array.isArray(x) ? x[0] : x;
    const w = tf.unstack(tf.softmax(this.alphas));
    return tf.addN(
      this.children.items.map((op, k) => tf.mul(op.forward(input, training), w[k])),
    ) as tf.Tensor4D;
  }

  override ops(): WeightedOp[] {
    const a = Array.from(this.alphas.dataSync());
    return this.children.items.map((op, k) => ({ op, weight: a[k] }));
  }

  override finalize(): FinalizedOp {
    const a = Array.from(this.alphas.dataSync());
    const best = a[1] > a[0] ? 1 : 0;
    return { desc: this.children.items[best].finalize().desc, rank: a[best] };
  }
}

/**
 * Node i reads the states before it through `edgeOp`, stride 2 from a reduction cell's inputs: all
 * of them (a supernet to finalize) or, with `twoInputs`, states i and i + 1 (a final cell).
 */
class NodesBuilder extends ModelDescBuilder {
  constructor(
    readonly edgeOp: string,
    readonly twoInputs = false,
  ) {
    super();
  }

  override buildNodes(
    _stemShapes: TensorShapes,
    _confCell: ConfCell,
    _cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): BuiltNodes {
    const c = outShape[0];
    const stride = (j: number) => (cellType === CellTypes.Reduction && j < 2 ? 2 : 1);
    const nodes = Array.from({ length: nodeCount }, (_, i) => {
      const inputs = this.twoInputs ? [i, i + 1] : Array.from({ length: i + 2 }, (_, j) => j);
      const edges = inputs.map(
        (j) =>
          new EdgeDesc(new OpDesc(this.edgeOp, { conv: new ConvMacroParams(c, c), stride: stride(j) }, 1), [
            j,
          ]),
      );
      return new NodeDesc(edges, new ConvMacroParams(inShape[0], c));
    });
    return { nodeShapes: nodes.map(() => [...outShape]), nodes };
  }
}

/** Alpha steps taken by every AlphaAdamTrainer of this file, and the epoch to crash at (null: none). */
const taken = { alphaSteps: 0, crashAtEpoch: null as number | null };

/** Before each weight step, one Adam step on the alphas against the batch's loss. */
class AlphaAdamTrainer extends Trainer {
  private readonly alphaOptimizer = createOptimizer({ type: 'adam', lr: 0.01 }, 'test.alpha_optimizer');

  protected override preStep(batch: Batch): void {
    if (this.epoch === taken.crashAtEpoch) throw new Error(`simulated crash in epoch ${this.epoch}`);
    const alphas = this.model.archParams();
    const { value, grads } = tf.variableGrads(
      () => this.computeLoss(batch.x, batch.y, true).loss,
      [...alphas.values()],
    );
    const byName = new Map([...alphas].map(([name, v]) => [name, grads[v.name]] as const));
    this.alphaOptimizer.step(alphas, byName, 0.01);
    tf.dispose([value, ...Object.values(grads)]);
    taken.alphaSteps += 1;
  }

  override dispose(): void {
    super.dispose();
    this.alphaOptimizer.dispose();
  }
}

// 256 synthetic images, half for validation, a stratified 2 x 16 of each split: 2 batches per epoch.
const EPOCHS = 3;
const BATCHES = 2;
const PROFILE = `
dataset: { name: synthetic }
nas:
  search:
    model_desc:
      n_reductions: 1
      n_cells: 3
      model_stems: { init_node_ch: 4 }
      cell: { n_nodes: 2 }
    loader: { train_batch: 16, test_batch: 32, val_ratio: 0.5, dataset: { max_batches: ${BATCHES} } }
    trainer: { epochs: ${EPOCHS}, logger_freq: 0, validation: { freq: 0 } }
common: { workers: 1 } # the test's ops live in this file: no worker thread can import them
`;

function source(name: string, archTrainer: typeof Trainer | null, builder: NodesBuilder): AlgoSource {
  const dir = mkdtempSync(join(tmpdir(), `tsnas-arch-steps-${name}-`));
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, PROFILE);
  const plugin = defineAlgo({
    name,
    config,
    builder,
    archTrainer,
    ops: { blend: (desc, { archParams, create }) => new Blend(desc, archParams, create) },
  });
  return { plugin, packageName: `tsnas-algo-${name}`, version: '1.0.0', origin: 'installed' };
}

const search = (algo: AlgoSource, expDir: string) =>
  new ExperimentRunner().run({ algo, expDir, cwd: expDir, backend: 'cpu', searchOnly: true });

const summaryOf = (expDir: string): Summary => JSON.parse(readFileSync(join(expDir, 'summary.json'), 'utf8'));

describe('summary.json search.arch_steps', () => {
  it('counts one step per search batch, the epochs before a crash included after a resume', async () => {
    const algo = source('blend', AlphaAdamTrainer, new NodesBuilder('blend'));
    const expDir = mkdtempSync(join(tmpdir(), 'tsnas-arch-steps-run-'));
    taken.alphaSteps = 0;
    taken.crashAtEpoch = 2;
    await expect(search(algo, expDir)).rejects.toThrow('simulated crash in epoch 2');
    expect(existsSync(join(expDir, 'summary.json'))).toBe(false);
    expect(taken.alphaSteps).toBe(2 * BATCHES);

    taken.crashAtEpoch = null;
    const { summary } = await search(algo, expDir);
    // The resumed process trained only the last epoch; the count still covers all three.
    expect(taken.alphaSteps).toBe(EPOCHS * BATCHES);
    expect(summary.search?.arch_steps).toBe(EPOCHS * BATCHES);
    expect(summaryOf(expDir).search?.arch_steps).toBe(EPOCHS * BATCHES);
    // alphas.jsonl has each epoch (the epochs that were trained again are appended again).
    const epochs = readFileSync(join(expDir, 'search', 'alphas.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).epoch);
    expect(new Set(epochs)).toEqual(new Set([0, 1, 2]));
  }, 60_000);

  it('is 0 when the search trains no alphas: no arch trainer (random search), or a network without any', async () => {
    const none = mkdtempSync(join(tmpdir(), 'tsnas-arch-steps-none-'));
    expect(
      (await search(source('fixed', null, new NodesBuilder('skip_connect', true)), none)).summary.search
        ?.arch_steps,
    ).toBe(0);
    expect(summaryOf(none).search?.arch_steps).toBe(0);

    // The plain trainer as arch trainer (DivNAS' noalpha): weights train, no alpha exists to step.
    const plain = mkdtempSync(join(tmpdir(), 'tsnas-arch-steps-plain-'));
    const { summary } = await search(source('plain', Trainer, new NodesBuilder('skip_connect', true)), plain);
    expect(summary.search?.arch_steps).toBe(0);
    expect(summary.search?.supernet_params).toBeGreaterThan(0);
  }, 60_000);
});
