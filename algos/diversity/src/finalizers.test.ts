import '@tensorflow/tfjs-backend-cpu';
import { PRIMITIVES } from '@tsnas/algo-darts';
import { SeededRng } from '@tsnas/backend';
import type { NodeDesc } from '@tsnas/descs';
import type { Model } from '@tsnas/ops';
import type { FinalizeContext } from '@tsnas/runner';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchSource, tinyModel } from './__tests__/tiny.js';
import { collectKernels, type NodeKernelEntry, nodeOpKeys } from './collect.js';
import type { DivOp } from './div-op.js';
import { type Candidate, DivnasFinalizers, DivnasRankFinalizers, rankByAlpha } from './finalizers.js';
import { MEDIAN_SIGMA_GRID, NodeKernel } from './kernel.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type NodeRuntime = Model['cells'][number]['nodes'][number];
const OPS = PRIMITIVES.filter((p) => p !== 'none');
const label = (e: { opDesc: { name: string }; inputIds: number[] }) => `${e.inputIds[0]}:${e.opDesc.name}`;

/** Runs finalizeNode with a given kernel instead of collected activations. */
function withKernel<F extends DivnasFinalizers>(
  f: F,
  node: NodeRuntime,
  nodeDesc: NodeDesc,
  kernel: NodeKernel,
) {
  const entry: NodeKernelEntry = { cellIndex: 0, cellId: 0, nodeIndex: 0, node, kernel };
  const ctx: FinalizeContext = { rng: new SeededRng(1), expDir: null };
  (f as any).kernels.set(node, entry);
  return (f as any).finalizeNode(node, 0, nodeDesc, 2, ctx) as NodeDesc;
}

describe('rankByAlpha', () => {
  it('keeps m = max(k, floor(n/2)) candidates, highest raw alpha first', () => {
    const c = (alpha: number, i: number): Candidate => ({ edge: 0, primitive: `p${i}`, alpha });
    const cands = [0.1, 0.5, -0.2, 0.3, 0.0].map(c);
    expect(rankByAlpha(cands, 2).map((x) => x.primitive)).toEqual(['p1', 'p3']);
    expect(rankByAlpha(cands, 3).map((x) => x.primitive)).toEqual(['p1', 'p3', 'p0']);
    const fourteen = Array.from({ length: 14 }, (_, i) => c(i, i));
    expect(rankByAlpha(fourteen, 2)).toHaveLength(7);
    expect(
      rankByAlpha(
        Array.from({ length: 35 }, (_, i) => c(i, i)),
        2,
      ),
    ).toHaveLength(17);
    expect(() => rankByAlpha([c(Number.NaN, 0)], 2)).toThrow(/noalpha/);
  });
});

describe('mutual-information finalizers on a node with a given kernel', () => {
  // Two edges, 14 candidates; kernel rows in PRIMITIVES order: e0 rows 0-6, e1 rows 7-13.
  const row = (edge: number, op: string) => edge * 7 + OPS.indexOf(op as never);
  // Alphas whose order differs from PRIMITIVES order. Top 7 (the mi_ranked pool), best first:
  // e1:dil_conv_5x5, e0:skip_connect, e1:max_pool_3x3, e0:sep_conv_5x5, e1:avg_pool_3x3,
  // e0:dil_conv_3x3, e1:sep_conv_3x3. Everything else is below.
  const alphas = [
    [-0.3, -0.4, 0.8, -0.5, 0.6, 0.4, -0.6, 2],
    [0.7, 0.5, -0.7, 0.3, -0.8, -0.9, 0.9, 2],
  ];
  // Star A: hub e0:sep_conv_5x5 with leaves e1:dil_conv_5x5, e0:skip_connect, e1:max_pool_3x3.
  // Star B: hub e1:sep_conv_3x3 with leaves e1:avg_pool_3x3, e0:dil_conv_3x3. (Both in the pool.)
  // Star C: hub e0:max_pool_3x3 with 4 leaves, all outside the pool.
  const links: [number, number][] = [
    [row(0, 'sep_conv_5x5'), row(1, 'dil_conv_5x5')],
    [row(0, 'sep_conv_5x5'), row(0, 'skip_connect')],
    [row(0, 'sep_conv_5x5'), row(1, 'max_pool_3x3')],
    [row(1, 'sep_conv_3x3'), row(1, 'avg_pool_3x3')],
    [row(1, 'sep_conv_3x3'), row(0, 'dil_conv_3x3')],
    [row(0, 'max_pool_3x3'), row(0, 'avg_pool_3x3')],
    [row(0, 'max_pool_3x3'), row(0, 'sep_conv_3x3')],
    [row(0, 'max_pool_3x3'), row(0, 'dil_conv_5x5')],
    [row(0, 'max_pool_3x3'), row(1, 'skip_connect')],
  ];
  const matrix = Array.from({ length: 14 }, (_, i) =>
    Array.from({ length: 14 }, (_, j): number => (i === j ? 1 : 0)),
  );
  for (const [a, b] of links) {
    matrix[a][b] = 0.3;
    matrix[b][a] = 0.3;
  }

  function setup() {
    const { model, desc } = tinyModel();
    const node = model.cells[0].nodes[0];
    const ops = node.edges.map((e) => e.op as DivOp);
    ops.forEach((op, i) => op.archParams()!.get('alphas').assign(tf.tensor1d(alphas[i])));
    const kernel = NodeKernel.fromMatrix(nodeOpKeys(ops), matrix);
    return { model, node, nodeDesc: desc.cellDescs()[0].nodes()[0], kernel };
  }

  it('mi_ranked picks the two star hubs of the alpha-ranked pool, found by (edge, op)', () => {
    const { model, node, nodeDesc, kernel } = setup();
    const out = withKernel(new DivnasRankFinalizers(), node, nodeDesc, kernel);
    // Pool order is by alpha: e0:sep_conv_5x5 (0.6) comes before e1:sep_conv_3x3 (0.3).
    expect(out.edges.map(label)).toEqual(['0:sep_conv_5x5', '1:sep_conv_3x3']);
    // Indexing the kernel by pool position (Archai's bug) would have read rows 3 and 6 instead.
    model.dispose();
  });

  it('mi considers every op, so the larger star outside the alpha pool wins', () => {
    const { model, node, nodeDesc, kernel } = setup();
    const out = withKernel(new DivnasFinalizers(), node, nodeDesc, kernel);
    expect(out.edges.map(label)).toEqual(['0:max_pool_3x3', '0:sep_conv_5x5']);
    model.dispose();
  });

  it('two chosen ops may read the same input', () => {
    const { model, node, nodeDesc, kernel } = setup();
    const out = withKernel(new DivnasFinalizers(), node, nodeDesc, kernel);
    expect(out.edges.map((e) => e.inputIds)).toEqual([[0], [0]]);
    model.dispose();
  });
});

describe('kernel collection over a supernet', () => {
  it('matches the kernel computed from the op outputs by definition, over batches of different sizes', () => {
    const { model } = tinyModel();
    const node = model.cells[0].nodes[0];
    const ops = node.edges.map((e) => e.op as DivOp);
    const keys = nodeOpKeys(ops);
    const sigma = 3;
    // Reference: record every op output in float64, then average exp(-d^2 / 2 sigma^2) per sample.
    const rows: number[][][] = keys.map(() => []);
    ops.forEach((op, edge) => {
      op.collector = (acts) => {
        for (const a of acts) {
          const i = keys.findIndex((k) => k.edge === edge && k.primitive === a.primitive);
          const b = a.output.shape[0];
          const data = Array.from(a.output.dataSync());
          const d = data.length / b;
          for (let s = 0; s < b; s++) rows[i].push(data.slice(s * d, (s + 1) * d));
        }
      };
    });
    const source = batchSource([3, 2]);
    for (const { x, y } of source) {
      tf.tidy(() => {
        model.forward(x, false);
      });
      tf.dispose([x, y]);
    }
    for (const op of ops) op.collector = null;
    const n = keys.length;
    const samples = rows[0].length;
    expect(samples).toBe(5);
    const expected = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => {
        let sum = 0;
        for (let s = 0; s < samples; s++) {
          let d2 = 0;
          for (let t = 0; t < rows[i][s].length; t++) d2 += (rows[i][s][t] - rows[j][s][t]) ** 2;
          sum += Math.exp(-d2 / (2 * sigma * sigma));
        }
        return i === j ? 1 : sum / samples;
      }),
    );

    const before = tf.memory().numTensors;
    const [entry] = collectKernels(model, batchSource([3, 2]), sigma);
    expect(tf.memory().numTensors).toBe(before);
    expect(entry.kernel.samples).toBe(5);
    const got = entry.kernel.matrix();
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(got[i][j]).toBeCloseTo(expected[i][j], 4);
    // Not a trivial kernel: the ops' outputs differ.
    expect(Math.min(...got.flat())).toBeLessThan(0.99);
    // Chunked forward passes (batch_chunks) give the same kernel.
    const [chunked] = collectKernels(model, batchSource([3, 2]), sigma, { chunks: 2 });
    expect(chunked.kernel.samples).toBe(5);
    const c = chunked.kernel.matrix();
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(c[i][j]).toBeCloseTo(got[i][j], 5);
    // Collectors are detached afterwards.
    expect(ops.every((op) => op.collector === null)).toBe(true);
    model.dispose();
  });

  it('finalizeModel collects, selects per node and writes heat maps and JSON', async () => {
    const { model, desc } = tinyModel({ nNodes: 2 });
    const expDir = mkdtempSync(join(tmpdir(), 'divnas-'));
    const messages: string[] = [];
    const out = await new DivnasRankFinalizers().finalizeModel(model, desc, {
      rng: new SeededRng(1),
      expDir,
      data: { train: batchSource([4, 4]), val: null },
      conf: { divnas: { sigma: 'median', archtrainer: 'bilevel' } },
      log: (m) => messages.push(m),
    });
    const nodes = out.cellDescs()[0].nodes();
    expect(nodes.map((n) => n.edges.length)).toEqual([2, 2]);
    for (const n of nodes) for (const e of n.edges) expect(OPS).toContain(e.opDesc.name as never);
    const cellId = desc.cellDescs()[0].id;
    for (const i of [0, 1]) {
      expect(existsSync(join(expDir, 'search', 'kernels', `cell_${cellId}_node_${i}.svg`))).toBe(true);
      const json = JSON.parse(
        readFileSync(join(expDir, 'search', 'kernels', `cell_${cellId}_node_${i}.json`), 'utf8'),
      );
      expect(json.labels).toHaveLength(7 * (i + 2));
      expect(json.labels[0]).toBe('e0:max_pool_3x3');
      expect(json.samples).toBe(8);
      expect(json.chosen).toHaveLength(2);
      expect(json.pool).toHaveLength(Math.floor((7 * (i + 2)) / 2));
      expect(json.matrix[0][0]).toBe(1);
      expect(json.sigma_setting).toBe('median');
      expect(MEDIAN_SIGMA_GRID).toContain(json.sigma);
      // The width is within a factor 2^(1/4) of the median distance.
      const median = json.distance_quantiles.find((d: { q: number }) => d.q === 0.5).distance;
      expect(Math.abs(Math.log2(json.sigma / median))).toBeLessThanOrEqual(0.25 + 1e-9);
    }
    const svg = readFileSync(join(expDir, 'search', 'kernels', `cell_${cellId}_node_0.svg`), 'utf8');
    expect(svg).toContain('e1:dil_conv_5x5');
    expect(messages.join('\n')).toMatch(/2 node kernels from 8 samples/);
    model.dispose();
  });

  it('needs the search train split and a divnas section', async () => {
    const { model, desc } = tinyModel();
    const ctx = { rng: new SeededRng(1), expDir: null };
    await expect(
      new DivnasFinalizers().finalizeModel(model, desc, {
        ...ctx,
        data: { train: null, val: null },
        conf: { divnas: { sigma: 1, archtrainer: 'bilevel' } },
      }),
    ).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/load_train/) });
    await expect(
      new DivnasFinalizers().finalizeModel(model, desc, {
        ...ctx,
        data: { train: batchSource([1]), val: null },
      }),
    ).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/nas\.search\.divnas/) });
    model.dispose();
  });
});
