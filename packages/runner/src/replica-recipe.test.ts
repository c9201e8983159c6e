// The runner's replica recipe: a @tsnas/ops Model rebuilt in a worker thread from its desc, with
// the ops of the plug-ins that own them, trained by @tsnas/trainer's data-parallel engine.
import 'reflect-metadata';
import { initBackend, SeededRng, seedEverything } from '@tsnas/backend';
import {
  type ConfModelDesc,
  DARTS_V2,
  genotypeToTemplate,
  type ModelDesc,
  ModelDescBuilder,
} from '@tsnas/descs';
import { Model, registerOp, SkipConnect } from '@tsnas/ops';
import { type GradientResult, InProcessGradientEngine, modelLoss } from '@tsnas/trainer';
import { createGradientEngine, DataParallelEngine } from '@tsnas/trainer/parallel';
import * as tf from '@tensorflow/tfjs-core';
import { container } from 'tsyringe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from './errors.js';
import { modelReplicaRecipe, opNamesOf, pluginModulesFor } from './replica-recipe.js';

beforeAll(async () => {
  await initBackend({ backend: 'cpu' });
});

/** max |a - b| / max |b| per gradient, the worst over every gradient of `b`. */
function maxRelErr(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  let worst = 0;
  for (const [k, t] of b) {
    const x = a.get(k)!.dataSync();
    const y = t.dataSync();
    const scale = Math.max(...Array.from(y, Math.abs), 1e-12);
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / scale);
  }
  return worst;
}

/** n 8x8x1 images of normal noise and labels in [0, 3), from `seed`. */
function batchOf(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const rng = new SeededRng(seed);
  return {
    x: tf.tensor4d(
      Array.from({ length: n * 64 }, () => rng.normal()),
      [n, 8, 8, 1],
    ),
    y: tf.tensor1d(
      Array.from({ length: n }, () => rng.int(3)),
      'int32',
    ),
  };
}

/** DARTS_V2 cells on 4x4 RGB-free inputs: 3 cells, one reduction, 4 channels, BN everywhere. */
function tinyDarts(): ModelDesc {
  const conf: ConfModelDesc = {
    dataset: { name: 'tiny', channels: 1, n_classes: 3 },
    n_reductions: 1,
    n_cells: 3,
    max_final_edges: 2,
    model_post_op: 'pool_adaptive_avg2d',
    params: {},
    aux_weight: 0,
    aux_tower_stride: 3,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
    cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
  };
  return new ModelDescBuilder().build(conf, genotypeToTemplate(DARTS_V2, conf));
}

function cosine(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [k, t] of b) {
    const x = a.get(k)!.dataSync();
    const y = t.dataSync();
    for (let i = 0; i < y.length; i++) {
      dot += x[i] * y[i];
      na += x[i] * x[i];
      nb += y[i] * y[i];
    }
  }
  return dot / Math.sqrt(na * nb);
}

describe('a @tsnas/ops Model replicated from its desc (BatchNorm everywhere)', () => {
  let model: Model;
  let engine: DataParallelEngine;
  beforeAll(() => {
    seedEverything(4);
    const desc = tinyDarts();
    model = new Model(desc, { container, affine: true, droppath: true });
    engine = new DataParallelEngine({
      workers: 2,
      recipe: {
        ...modelReplicaRecipe({ desc, affine: true, droppath: true }),
        loss: {},
        backend: 'cpu',
        seed: 4,
      },
    });
  });
  afterAll(() => {
    engine.dispose();
    model.dispose();
  });

  const run = (e: DataParallelEngine | InProcessGradientEngine, chunks: number, seed = 8): GradientResult => {
    const b = batchOf(8, seed);
    const r = e.compute(model, {
      x: b.x,
      y: b.y,
      vars: model.weights(),
      chunks,
      loss: (xs, ys) => modelLoss(model, xs, ys, true, {}),
    });
    tf.dispose([b.x, b.y]);
    return r;
  };

  it('equals the in-process gradients when every thread gets whole chunks (same BN batches)', () => {
    const want = run(new InProcessGradientEngine(), 2);
    const got = run(engine, 2);
    // Only the order of the sum over chunks differs.
    expect(maxRelErr(got.grads, want.grads)).toBeLessThanOrEqual(1e-5);
    expect(got.loss).toBeCloseTo(want.loss, 5);
    for (const r of [want, got]) for (const g of r.grads.values()) g.dispose();
  });

  it('with batch_chunks 1 splits the batch in two BN batches, exactly as batch_chunks 2 does', () => {
    const full = run(new InProcessGradientEngine(), 1);
    const halves = run(new InProcessGradientEngine(), 2);
    const got = run(engine, 1);
    expect(maxRelErr(got.grads, halves.grads)).toBeLessThanOrEqual(1e-5);
    // BN statistics of 4 rows instead of 8 change the gradient itself (cosine ~0.65 on this net).
    expect(cosine(got.grads, full.grads)).toBeLessThan(0.99);
    for (const r of [full, halves, got]) for (const g of r.grads.values()) g.dispose();
  });

  it('draws drop-path masks repeatably from the model', () => {
    engine.setDropPathProb(0.3);
    model.setDropPathProb(0.3);
    const results: number[] = [];
    for (let i = 0; i < 2; i++) {
      model.dropPathRng = new SeededRng(5);
      const r = run(engine, 2);
      results.push(r.loss);
      for (const g of r.grads.values()) g.dispose();
    }
    expect(results[1]).toBe(results[0]);
    engine.setDropPathProb(0);
    model.setDropPathProb(0);
  });
});

describe('plug-ins and settings', () => {
  it('lists the op names of a desc', () => {
    const names = opNamesOf(tinyDarts());
    expect(names).toContain('sep_conv_3x3');
    expect(names).toContain('stem_conv3x3');
    expect(names).toContain('concate_channels');
  });

  it('finds the package that registered a non-built-in op, as sources in tests', () => {
    const desc = tinyDarts();
    const c = container.createChildContainer();
    expect(pluginModulesFor(desc, c, [process.cwd()])).toEqual([]);
    // Reuse a real op under a new name, registered by an installed package (@tsnas/ops itself).
    const custom = desc.clone();
    const edge = custom.cellDescs()[0].nodes()[0].edges[0];
    edge.opDesc.name = 'my_skip';
    registerOp(c, 'my_skip', (d, { affine }) => new SkipConnect(d, affine), '@tsnas/ops');
    const urls = pluginModulesFor(custom, c, [process.cwd()]);
    expect(urls).toHaveLength(1);
    expect(urls[0]).toMatch(/packages\/ops\/src\/index\.ts$/);
    const other = container.createChildContainer();
    registerOp(other, 'my_skip', (d, { affine }) => new SkipConnect(d, affine), 'no-such-package');
    expect(() => pluginModulesFor(custom, other, [process.cwd()])).toThrow(UsageError);
    expect(() => pluginModulesFor(custom, other, [process.cwd()])).toThrow(
      /op 'my_skip' is registered by 'no-such-package', which a worker thread cannot import/,
    );
  });

  it('gives createGradientEngine a replica of the run network, built only for threads', () => {
    const desc = tinyDarts();
    const replica = () => modelReplicaRecipe({ desc, affine: true, droppath: false });
    const one = createGradientEngine({ workers: 1, replica, loss: {} });
    expect(one.engine).toBeInstanceOf(InProcessGradientEngine);
    const two = createGradientEngine({ workers: 2, replica, loss: {} });
    expect(two.engine).toBeInstanceOf(DataParallelEngine);
    expect(two.engine.replicas).toBe(2);
    two.engine.dispose();
  });
});
