import 'reflect-metadata';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAllGradients, seedEverything } from '@tsnas/backend';
import type { ConfModelDesc } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { ArchHistory, createRunContainer, DefaultFinalizers } from '@tsnas/runner';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import plugin from './index.js';
import { type MixedOp, PRIMITIVES } from './mixed-op.js';

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

const conf: ConfModelDesc = {
  dataset: { name: 'synthetic', channels: 1, n_classes: 3 },
  n_reductions: 1,
  n_cells: 3,
  max_final_edges: 2,
  model_post_op: 'pool_adaptive_avg2d',
  params: {},
  aux_weight: 0,
  aux_tower_stride: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 1, init_node_ch: 2 },
  cell: { n_nodes: 2, cell_post_op: 'concate_channels' },
};

const idx = (name: string) => PRIMITIVES.indexOf(name as (typeof PRIMITIVES)[number]);
/** Alphas of -10 everywhere except the given primitives. */
function alphas(values: Record<string, number>, rest = -10): number[] {
  return PRIMITIVES.map((p) => values[p] ?? rest);
}

describe('DARTS finalizer', () => {
  it('keeps per node the two edges whose best non-none op has the largest softmax weight', async () => {
    seedEverything(0);
    const c = createRunContainer({
      plugin,
      packageName: '@tsnas/algo-darts',
      version: '0',
      origin: 'built-in',
    });
    const builder = new (await import('./builder.js')).DartsModelDescBuilder();
    const desc = builder.build(conf);
    const model = new Model(desc, { container: c, affine: false, droppath: false });
    const [normal, reduce] = [model.cells[0], model.cells[1]];
    const set = (cell: (typeof model.cells)[number], node: number, edge: number, a: number[]) => {
      const op = cell.nodes[node].edges[edge].op as MixedOp;
      op.archParams()!.get('alphas').assign(tf.tensor1d(a));
    };
    // Normal node 1 has edges from states 0, 1, 2:
    //  edge 0: every primitive at 2, `none` too      -> best weight 1/8 = 0.125 (raw alpha 2)
    //  edge 1: sep_conv_5x5 at 1.5, the rest at -10  -> best weight ~1.0       (raw 1.5)
    //  edge 2: dil_conv_3x3 at 1, the rest at 0.9    -> best weight ~0.136     (raw 1)
    // Raw alphas (Archai) would keep edges 0 and 1; softmax weights (DARTS) keep edges 1 and 2.
    set(
      normal,
      1,
      0,
      PRIMITIVES.map(() => 2),
    );
    set(normal, 1, 1, alphas({ sep_conv_5x5: 1.5 }));
    set(normal, 1, 2, alphas({ dil_conv_3x3: 1 }, 0.9));
    // Normal node 0: `none` is the largest alpha on edge 0, but never chosen.
    set(normal, 0, 0, alphas({ none: 5, max_pool_3x3: 1 }));
    set(normal, 0, 1, alphas({ skip_connect: 3 }));
    // Reduction node 0: the ops keep their stride 2 on the stem inputs.
    set(reduce, 0, 0, alphas({ avg_pool_3x3: 2 }));
    set(reduce, 0, 1, alphas({ sep_conv_3x3: 2 }));
    set(reduce, 1, 2, alphas({ skip_connect: 4 }));
    set(reduce, 1, 0, alphas({ dil_conv_5x5: 3 }));

    const final = await new DefaultFinalizers().finalizeModel(model, desc, {
      rng: null as never,
      expDir: null,
    });
    const edges = (cellIndex: number, node: number) =>
      final
        .cellDescs()
        [cellIndex].nodes()
        [node].edges.map((e) => [e.opDesc.name, e.inputIds[0], e.opDesc.params.stride]);
    expect(edges(0, 1)).toEqual([
      ['sep_conv_5x5', 1, 1],
      ['dil_conv_3x3', 2, 1],
    ]);
    expect(edges(0, 0)).toEqual([
      ['skip_connect', 1, 1],
      ['max_pool_3x3', 0, 1],
    ]);
    expect(edges(1, 0)).toEqual(
      expect.arrayContaining([
        ['avg_pool_3x3', 0, 2],
        ['sep_conv_3x3', 1, 2],
      ]),
    );
    expect(edges(1, 1)).toEqual([
      ['skip_connect', 2, 1],
      ['dil_conv_5x5', 0, 2],
    ]);
    // Cells of one type share their alphas, so cell 2 (normal) finalizes like cell 0.
    expect(
      final
        .cellDescs()[2]
        .nodes()[1]
        .edges.map((e) => e.opDesc.name),
    ).toEqual(['sep_conv_5x5', 'dil_conv_3x3']);
    expect(idx('none')).toBe(7);
    model.dispose();
  });
});

describe('search/alphas.jsonl', () => {
  it('records each owned edge once per epoch with softmax weights and the genotype they give', async () => {
    seedEverything(0);
    const container = createRunContainer({
      plugin,
      packageName: '@tsnas/algo-darts',
      version: '0',
      origin: 'built-in',
    });
    const desc = new (await import('./builder.js')).DartsModelDescBuilder().build(conf);
    const model = new Model(desc, { container, affine: false, droppath: false });
    const file = join(mkdtempSync(join(tmpdir(), 'alphas-')), 'search', 'alphas.jsonl');
    const history = new ArchHistory(file);
    history.record(model, desc, 0);
    // Epoch 1: every edge of both owned cells prefers one primitive.
    for (const [cell, name] of [
      [model.cells[0], 'sep_conv_3x3'],
      [model.cells[1], 'max_pool_3x3'],
    ] as const) {
      for (const node of cell.nodes)
        for (const edge of node.edges) {
          const a = PRIMITIVES.map((p) => (p === name ? 3 : 0));
          (edge.op as MixedOp).archParams()!.get('alphas').assign(tf.tensor1d(a));
        }
    }
    history.record(model, desc, 1);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([0, 1]);
    // Cells 0 (normal) and 1 (reduce) own their alphas; cell 2 shares cell 0's. Nodes have 2 and 3 edges.
    const edges = lines[1].edges;
    expect(edges.map((e: any) => `${e.cell_type}:${e.node}:${e.inputs.join('+')}`)).toEqual([
      'normal:0:0',
      'normal:0:1',
      'normal:1:0',
      'normal:1:1',
      'normal:1:2',
      'reduce:0:0',
      'reduce:0:1',
      'reduce:1:0',
      'reduce:1:1',
      'reduce:1:2',
    ]);
    for (const e of edges) {
      expect(Object.keys(e.weights).sort()).toEqual([...PRIMITIVES].sort());
      const sum = Object.values(e.weights as Record<string, number>).reduce((s, v) => s + v, 0);
      expect(sum).toBeCloseTo(1, 6);
    }
    // softmax([3, 0 x 7]) = e^3 / (e^3 + 7)
    const top = Math.exp(3) / (Math.exp(3) + 7);
    expect(edges[0].weights.sep_conv_3x3).toBeCloseTo(top, 6);
    expect(edges[5].weights.max_pool_3x3).toBeCloseTo(top, 6);
    // Near-uniform at initialisation (alphas ~ 1e-3 N(0, 1)).
    expect(lines[0].edges[0].weights.none).toBeCloseTo(1 / 8, 2);
    expect(lines[1].genotype).toMatch(/^Genotype\(normal=\[\('sep_conv_3x3', \d\)/);
    expect(lines[1].genotype).toContain("reduce=[('max_pool_3x3'");
    model.dispose();
  });
});
