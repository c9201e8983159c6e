import '@tensorflow/tfjs-backend-cpu';
import { PRIMITIVES as DARTS_PRIMITIVES } from '@tsnas/algo-darts';
import { registerAllGradients, SeededRng, seedEverything } from '@tsnas/backend';
import {
  CellType,
  type ConfModelDesc,
  genotypeToString,
  type ModelDesc,
  ModelDescBuilder,
  modelDescToGenotype,
} from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { createRunContainer, loadRunConfig, type ProfileKind } from '@tsnas/runner';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { RandomModelDescBuilder } from './builder.js';
import { RANDOM_PRIMITIVES, sampleRandOps } from './rand-ops.js';
import plugin from './index.js';

beforeAll(async () => {
  await registerAllGradients();
  await tf.setBackend('cpu');
});

async function profile(kind: ProfileKind = 'default', overrides: string[] = []): Promise<any> {
  const loaded = await loadRunConfig({
    algo: plugin,
    profile: kind,
    configFiles: [],
    overrides,
    cwd: process.cwd(),
    noUserConfig: true,
  });
  return loaded.tree;
}

const genotypeOf = (d: ModelDesc) => genotypeToString(modelDescToGenotype(d));

function withSeed(seed: number, conf: ConfModelDesc, k = 0): ModelDesc {
  return new RandomModelDescBuilder({ rng: () => new SeededRng(seed) }).buildSample(conf, k);
}

describe('RANDOM_PRIMITIVES', () => {
  it("are DARTS' primitives without none", () => {
    expect([...RANDOM_PRIMITIVES]).toEqual(DARTS_PRIMITIVES.filter((p) => p !== 'none'));
  });
});

describe('sampleRandOps', () => {
  it('draws ordered distinct input pairs uniformly and every primitive', () => {
    const rng = new SeededRng(11);
    const pairs = new Map<string, number>();
    const ops = new Map<string, number>();
    const n = 12_000;
    for (let t = 0; t < n; t++) {
      // Node 2 reads from range(4): 12 ordered pairs of distinct states.
      const r = sampleRandOps(rng, 3);
      const key = r.inputs[2].join(',');
      pairs.set(key, (pairs.get(key) ?? 0) + 1);
      for (const o of r.ops.flat()) ops.set(o, (ops.get(o) ?? 0) + 1);
    }
    expect(pairs.size).toBe(12);
    for (const [key, count] of pairs) {
      const [a, b] = key.split(',').map(Number);
      expect(a).not.toBe(b);
      // Expected 1000 each; 1000 +- 5 sigma (sigma ~ 30).
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1150);
    }
    expect([...ops.keys()].sort()).toEqual([...RANDOM_PRIMITIVES].sort());
    // 6 ops per draw, 7 primitives: about 10,286 each.
    for (const count of ops.values()) expect(Math.abs(count - (6 * n) / 7)).toBeLessThan(500);
  });

  it('refuses more edges than a node has inputs', () => {
    expect(() => sampleRandOps(new SeededRng(1), 2, RANDOM_PRIMITIVES, 3)).toThrow(
      /node 0 has 2 possible inputs/,
    );
  });
});

describe('RandomModelDescBuilder', () => {
  it('same seed, same cells; other seeds, other cells', async () => {
    const md = (await profile()).nas.search.model_desc;
    const a = genotypeOf(withSeed(2, md));
    expect(genotypeOf(withSeed(2, md))).toBe(a);
    const others = new Set([3, 4, 5, 6, 7].map((s) => genotypeOf(withSeed(s, md))));
    expect(others.has(a)).toBe(false);
    expect(others.size).toBe(5);
    // Samples of one seed differ from each other, and sample 0 is what build() gives.
    expect(genotypeOf(withSeed(2, md, 1))).not.toBe(a);
    expect(genotypeOf(new RandomModelDescBuilder({ rng: () => new SeededRng(2) }).build(md))).toBe(a);
  });

  it('follows the seed of the global random source (what the Searcher seeds with common.seed)', async () => {
    const md = (await profile()).nas.search.model_desc;
    const builder = new RandomModelDescBuilder();
    seedEverything(9);
    const first = genotypeOf(builder.build(md));
    // Drawing from the global source in between does not change the sample.
    seedEverything(9).next();
    expect(genotypeOf(builder.build(md))).toBe(first);
    expect(first).toBe(genotypeOf(withSeed(9, md)));
    seedEverything(10);
    expect(genotypeOf(builder.build(md))).not.toBe(first);
  });

  it('gives every node two edges with distinct inputs, no none, stride 2 only from reduction inputs', async () => {
    // The eval network of the default profile: 5 cells, reductions at 1 and 3.
    const md = (await profile()).nas.eval.model_desc;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const desc = withSeed(seed, md);
      const cells = desc.cellDescs();
      expect(cells.map((c) => c.cellType)).toEqual([
        CellType.Regular,
        CellType.Reduction,
        CellType.Regular,
        CellType.Reduction,
        CellType.Regular,
      ]);
      for (const cell of cells) {
        const reduction = cell.cellType === CellType.Reduction;
        const nodes = cell.nodes();
        expect(nodes).toHaveLength(4);
        nodes.forEach((node, i) => {
          expect(node.edges).toHaveLength(2);
          const inputs = node.edges.map((e) => e.inputIds[0]);
          expect(new Set(inputs).size).toBe(2);
          for (const e of node.edges) {
            expect(e.inputIds).toHaveLength(1);
            expect(e.inputIds[0]).toBeGreaterThanOrEqual(0);
            expect(e.inputIds[0]).toBeLessThan(i + 2);
            expect(RANDOM_PRIMITIVES).toContain(e.opDesc.name);
            expect(e.opDesc.params.stride).toBe(reduction && e.inputIds[0] < 2 ? 2 : 1);
          }
        });
      }
      // Every cell of a type has the same sample.
      const edgesOf = (ci: number) =>
        cells[ci].nodes().map((n) => n.edges.map((e) => [e.opDesc.name, e.inputIds[0]]));
      expect(edgesOf(2)).toEqual(edgesOf(0));
      expect(edgesOf(4)).toEqual(edgesOf(0));
      expect(edgesOf(3)).toEqual(edgesOf(1));
    }
  });

  it('builds from a template like the base builder, drawing nothing', async () => {
    const conf = await profile();
    const template = withSeed(5, conf.nas.search.model_desc);
    const builder = new RandomModelDescBuilder({
      rng: () => {
        throw new Error('the eval build must not sample');
      },
    });
    const evalDesc = builder.build(conf.nas.eval.model_desc, template);
    const base = new ModelDescBuilder().build(conf.nas.eval.model_desc, template);
    expect(evalDesc.cellDescs()).toHaveLength(conf.nas.eval.model_desc.n_cells);
    expect(genotypeOf(evalDesc)).toBe(genotypeOf(template));
    expect(JSON.stringify(evalDesc.cellDescs().map((c) => c.nodes()))).toBe(
      JSON.stringify(base.cellDescs().map((c) => c.nodes())),
    );
  });

  it('builds an eval network that runs forward', async () => {
    const conf = await profile('toy');
    const desc = withSeed(3, conf.nas.eval.model_desc);
    const model = new Model(desc, { container: createRunContainer(null), affine: true, droppath: false });
    const x = tf.randomNormal([2, 28, 28, 1]) as tf.Tensor4D;
    const { logits } = model.forward(x, false);
    expect(logits.shape).toEqual([2, 10]);
    expect(model.paramCount()).toBeGreaterThan(0);
    tf.dispose([x, logits]);
    model.dispose();
  });
});
