import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { seedEverything } from '@tsnas/backend';
import {
  type ConfModelDesc,
  DARTS_V1,
  DARTS_V2,
  type Genotype,
  genotypeToTemplate,
  ModelDescBuilder,
} from '@tsnas/descs';
import { container } from 'tsyringe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conf, ramp, useCpu } from './__tests__/fixtures.js';
import { TestDartsBuilder, testMixedOpFactory } from './__tests__/mixed-op.js';
import { Model, registerOp, SkipConnect, StateError } from './index.js';
import { constants } from './internal/fused.js';

beforeAll(useCpu);

function evalDesc(g: Genotype, overrides: Partial<ConfModelDesc> = {}) {
  const c = conf(overrides);
  return new ModelDescBuilder().build(c, genotypeToTemplate(g, c));
}

function countOf(g: Genotype, stems: string[]) {
  const desc = evalDesc(g, { model_stems: { ops: stems, stem_multiplier: 3, init_node_ch: 36 } });
  const model = new Model(desc, { container, affine: true, droppath: true });
  const counts = [model.paramCount({ includeAux: false }), model.paramCount()];
  model.dispose();
  return counts;
}

/** A small DARTS-genotype eval net: 5 cells, reductions at 1 and 3, aux head after cell 3. */
function tinyEvalModel(droppath = true, g: Genotype = DARTS_V2) {
  const desc = evalDesc(g, {
    n_cells: 5,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
  });
  return new Model(desc, { container, affine: true, droppath });
}

function searchRun() {
  const run = container.createChildContainer();
  registerOp(run, 'mixed_op', testMixedOpFactory, 'test-darts');
  return run;
}

function searchConf(nCells: number, nReductions: number, ch: number): ConfModelDesc {
  return conf({
    n_cells: nCells,
    n_reductions: nReductions,
    aux_weight: 0,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: ch },
  });
}

describe('parameter counts of the DARTS paper networks', () => {
  it('DARTS_V2 CIFAR-10 eval net (36 ch, 20 cells, one shared stem): 3,349,342 without aux, 3,825,768 with', () => {
    expect(countOf(DARTS_V2, ['stem_conv3x3'])).toEqual([3_349_342, 3_825_768]);
  });

  it('DARTS_V1: 3,169,414 and 3,645,840', () => {
    expect(countOf(DARTS_V1, ['stem_conv3x3'])).toEqual([3_169_414, 3_645_840]);
  });

  it("Archai's two stems add 3,132", () => {
    const [noAux, all] = countOf(DARTS_V2, ['stem_conv3x3', 'stem_conv3x3']);
    expect(noAux).toBe(3_349_342 + 3_132);
    expect(all).toBe(3_825_768 + 3_132);
  });

  it('DARTS search supernet (16 ch, 8 cells, mixed ops, affine=false, affine stem): 1,930,618 weights + 2 x 14 alphas[8]', () => {
    const desc = new TestDartsBuilder().build(searchConf(8, 2, 16));
    const model = new Model(desc, { container: searchRun(), affine: false, droppath: false });
    expect(model.paramCount()).toBe(1_930_618);
    const arch = model.archParams();
    expect(arch.size).toBe(28);
    for (const v of arch.values()) expect(v.shape).toEqual([8]);
    // Owned by the first normal cell (0) and the first reduction cell (2).
    expect([...arch.keys()].filter((n) => n.startsWith('cells.0.'))).toHaveLength(14);
    expect([...arch.keys()].filter((n) => n.startsWith('cells.2.'))).toHaveLength(14);
    expect(arch.has('cells.2.nodes.0.edges.0.op.alphas')).toBe(true);
    expect(model.paramCount({ includeArch: true })).toBe(1_930_618 + 28 * 8);
    // The variables are shared, not copied.
    const alphas = (cell: number, node: number, edge: number) =>
      model.cells[cell].nodes[node].edges[edge].op.archParams()!.get('alphas');
    expect(alphas(7, 3, 4)).toBe(alphas(0, 3, 4));
    expect(alphas(5, 1, 2)).toBe(alphas(2, 1, 2));
    expect(alphas(5, 1, 2)).not.toBe(alphas(0, 1, 2));
    for (const name of model.weights().keys()) expect(name.endsWith('alphas')).toBe(false);
    model.dispose();
  });
});

describe('Model', () => {
  it('forward: logits always, aux logits only while training; one stem feeds s0 and s1', () => {
    const model = tinyEvalModel(false);
    expect(model.stems).toHaveLength(1);
    tf.tidy(() => {
      const x = ramp([2, 32, 32, 3]);
      const train = model.forward(x, true);
      expect(train.logits.shape).toEqual([2, 10]);
      expect(train.aux?.shape).toEqual([2, 10]);
      const test = model.forward(x, false);
      expect(test.logits.shape).toEqual([2, 10]);
      expect(test.aux).toBeNull();
    });
    expect(model.auxTowers.map((t) => t !== null)).toEqual([false, false, false, true, false]);
    model.dispose();
  });

  it('droppath wraps droppable edge ops only, and setDropPathProb changes training outputs only', () => {
    seedEverything(5);
    const model = tinyEvalModel(true);
    const edges = model.cells.flatMap((c) => c.nodes.flatMap((n) => n.edges));
    for (const e of edges) expect(e.dropPath !== null).toBe(!(e.op instanceof SkipConnect));
    expect(edges.some((e) => e.op instanceof SkipConnect)).toBe(true);
    const x = ramp([4, 32, 32, 3]);
    const evalBefore = model.forward(x, false).logits.dataSync();
    model.setDropPathProb(0.5);
    const evalAfter = model.forward(x, false).logits.dataSync();
    expect(Array.from(evalAfter)).toEqual(Array.from(evalBefore));
    expect(() => model.setDropPathProb(1)).toThrow(/\[0, 1\)/);
    model.dispose();
  });

  it('seedEverything makes initialisation and drop-path masks repeatable', () => {
    const run = () => {
      seedEverything(11);
      const m = tinyEvalModel(true);
      m.setDropPathProb(0.3);
      const w = Array.from(m.weights().get('cells.0.nodes.0.edges.0.op.conv1.depthwise.weight')!.dataSync());
      const y = tf.tidy(() => Array.from(m.forward(ramp([4, 32, 32, 3]), true).logits.dataSync()));
      m.dispose();
      return { w, y };
    };
    const a = run();
    const b = run();
    expect(b.w).toEqual(a.w);
    expect(b.y).toEqual(a.y);
  });

  it('a training step (forward + backward) leaves tf.memory().numTensors unchanged', () => {
    const model = tinyEvalModel(true);
    model.setDropPathProb(0.2);
    const x = ramp([2, 32, 32, 3]);
    const labels = tf.oneHot(tf.tensor1d([1, 7], 'int32'), 10);
    const vars = [...model.weights().values()];
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const { logits, aux } = model.forward(x, true);
        const loss = tf.losses.softmaxCrossEntropy(labels, logits);
        return tf.add(loss, tf.mul(tf.losses.softmaxCrossEntropy(labels, aux!), 0.4)) as tf.Scalar;
      }, vars);
      expect(Object.keys(grads)).toHaveLength(vars.length);
      value.dispose();
      tf.dispose(grads);
    };
    // From the very first step, nothing leaks (BN buffers are replaced, not added); the only new
    // tensors are the shape constants the ops cache, and dispose frees them with the model.
    const start = tf.memory().numTensors;
    const cachedBefore = constants.size;
    step();
    const cached = constants.size - cachedBefore;
    expect(tf.memory().numTensors).toBe(start + cached);
    step();
    expect(tf.memory().numTensors).toBe(start + cached);
    const nVars = model.weights().size + model.archParams().size + model.buffers().size;
    model.dispose();
    expect(tf.memory().numTensors).toBe(start - nVars - cachedBefore);
  });

  it('gradients reach the shared alphas from every cell of the type', () => {
    const desc = new TestDartsBuilder().build(searchConf(3, 1, 4));
    const model = new Model(desc, { container: searchRun(), affine: false, droppath: false });
    expect(model.archParams().size).toBe(28);
    const shared = model.cells[0].nodes[0].edges[0].op.archParams()!.get('alphas');
    expect(model.cells[2].nodes[0].edges[0].op.archParams()!.get('alphas')).toBe(shared);
    const x = ramp([2, 8, 8, 3]);
    // Cell inputs computed outside the tape, so only the cell under test contributes a gradient.
    const s = model.stems[0].forward(x, true);
    const c0 = model.cells[0].forward(s, s, true);
    const c1 = model.cells[1].forward(s, c0, true);
    const viaCell = (i: 0 | 2) =>
      tf.variableGrads(() => {
        const out = i === 0 ? model.cells[0].forward(s, s, true) : model.cells[2].forward(c0, c1, true);
        return tf.sum(tf.square(out));
      }, [shared]).grads[shared.name];
    for (const i of [0, 2] as const) {
      const g = viaCell(i);
      expect(g.shape).toEqual([8]);
      expect(tf.sum(tf.abs(g)).dataSync()[0], `cell ${i}`).toBeGreaterThan(0);
    }
    // Through the whole model, both alpha sets get a gradient.
    const { grads } = tf.variableGrads(
      () => tf.sum(model.forward(x, true).logits),
      [...model.archParams().values()],
    );
    expect(Object.keys(grads)).toHaveLength(28);
    model.dispose();
  });
});

describe('state and weights files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsnas-ops-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saveWeights/loadWeights round-trips weights, arch params and BN buffers as safetensors', async () => {
    const run = searchRun();
    const desc = new TestDartsBuilder().build(searchConf(3, 1, 4));
    seedEverything(1);
    const a = new Model(desc, { container: run, affine: false, droppath: false });
    a.forward(ramp([2, 8, 8, 3]), true); // moves the BN running stats off their initial values
    const file = join(dir, 'w.safetensors');
    await a.saveWeights(file);

    // Python can read it: 8-byte LE header length, JSON header, raw F32 data.
    const buf = readFileSync(file);
    const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
    const name = 'cells.0.s0_op.conv.weight';
    expect(header[name]).toEqual({ dtype: 'F32', shape: [1, 1, 12, 4], data_offsets: expect.any(Array) });
    expect(header['cells.0.nodes.0.edges.0.op.alphas'].shape).toEqual([8]);
    expect(header['cells.0.s0_op.bn.running_var']).toBeDefined();

    seedEverything(2);
    const b = new Model(desc, { container: run, affine: false, droppath: false });
    expect(Array.from(b.weights().get(name)!.dataSync())).not.toEqual(
      Array.from(a.weights().get(name)!.dataSync()),
    );
    await b.loadWeights(file);
    const sa = a.getState();
    const sb = b.getState();
    expect([...sb.keys()].sort()).toEqual([...sa.keys()].sort());
    for (const [k, v] of sa) expect(Array.from(sb.get(k)!.dataSync()), k).toEqual(Array.from(v.dataSync()));
    const x = ramp([2, 8, 8, 3]);
    expect(Array.from(b.forward(x, false).logits.dataSync())).toEqual(
      Array.from(a.forward(x, false).logits.dataSync()),
    );
    tf.dispose([...sa.values(), ...sb.values()]);
    a.dispose();
    b.dispose();
  });

  it('a mismatched file names the tensor and both shapes; missing and extra tensors are named', async () => {
    const small = tinyEvalModel(false);
    const file = join(dir, 'small.safetensors');
    await small.saveWeights(file);
    const wider = new Model(
      evalDesc(DARTS_V2, {
        n_cells: 5,
        model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 6 },
      }),
      { container, affine: true, droppath: false },
    );
    const err = await wider.loadWeights(file).catch((e) => e);
    expect(err).toBeInstanceOf(StateError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(
      /small\.safetensors: tensor 'stems\.0\.conv\.weight' has shape \[3,3,3,12\], the model expects \[3,3,3,18\]/,
    );

    const state = small.getState();
    const removed = state.get('logits_op.linear.bias')!;
    state.delete('logits_op.linear.bias');
    expect(() => small.setState(state)).toThrow(/missing tensor\(s\) logits_op\.linear\.bias/);
    state.set('logits_op.linear.bias', removed);
    state.set('not.a.tensor', tf.zeros([1]));
    expect(() => small.setState(state)).toThrow(/unexpected tensor\(s\) not\.a\.tensor/);
    tf.dispose([...state.values()]);
    small.dispose();
    wider.dispose();
  });
});
