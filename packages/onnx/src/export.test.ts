import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors, type NamedArray, seedEverything } from '@tsnas/backend';
import {
  type ConfModelDesc,
  DARTS_V1,
  DARTS_V2,
  type Genotype,
  genotypeToTemplate,
  ModelDescBuilder,
  OpDesc,
} from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel, exportOnnx, ONNX_OPSET, OnnxExportError } from './index.js';
import { onnx } from './internal/proto.js';
import {
  container,
  maxAbsDiff,
  nhwcToNchw,
  randomize,
  rng,
  runOnnx,
  tf,
  uniform,
  useCpu,
  weightsOf,
} from './__tests__/reference.js';

beforeAll(useCpu);

/** Weight scale of the random networks: logits of order 10 that samples move by tenths. */
const GAIN = 2;

function conf(overrides: Partial<ConfModelDesc> = {}): ConfModelDesc {
  return {
    dataset: { name: 'fashion_mnist', channels: 1, n_classes: 10 },
    n_reductions: 2,
    n_cells: 8,
    max_final_edges: 2,
    model_post_op: 'pool_adaptive_avg2d',
    params: {},
    aux_weight: 0.4,
    aux_tower_stride: 3,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 8 },
    cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
    ...overrides,
  };
}

function evalDesc(g: Genotype, c: ConfModelDesc) {
  return new ModelDescBuilder().build(c, genotypeToTemplate(g, c));
}

/** tsnas's logits (eval mode) for an NHWC batch. */
function tsnasLogits(
  model: Model,
  data: Float32Array,
  shape: [number, number, number, number],
): Float32Array {
  const x = tf.tensor4d(data, shape);
  const { logits } = model.forward(x, false);
  const out = logits.dataSync() as Float32Array;
  logits.dispose();
  x.dispose();
  return out;
}

const toNchw = ([b, h, w, c]: number[]) => [b, c, h, w];

describe('the DARTS_V2 evaluation network (8 cells, 28x28x1, random weights and BN statistics)', () => {
  const shape: [number, number, number, number] = [3, 28, 28, 1];
  let model: Model;
  let weights: Map<string, NamedArray>;
  let input: Float32Array;
  let expected: Float32Array;

  beforeAll(() => {
    const desc = evalDesc(DARTS_V2, conf());
    seedEverything(1);
    model = new Model(desc, { container, affine: true, droppath: true });
    model.setDropPathProb(0.3);
    randomize(model.variables(), 1, GAIN);
    weights = weightsOf(model.variables());
    input = uniform(
      shape.reduce((a, b) => a * b, 1),
      rng(2),
      -1,
      1,
    );
    expected = tsnasLogits(model, input, shape);
  });
  afterAll(() => model.dispose());

  it('runs in onnxruntime with NCHW input; logits equal tsnas within 1e-4; the aux head is left out', async () => {
    expect(model.desc.hasAuxTower()).toBe(true);
    expect([...weights.keys()].some((n) => n.startsWith('aux_towers.'))).toBe(true);
    const proto = buildOnnxModel(model.desc, weights);
    expect(proto.opsetImport).toEqual([expect.objectContaining({ domain: '', version: ONNX_OPSET })]);
    expect(ONNX_OPSET).toBeGreaterThanOrEqual(17);
    const nodes = proto.graph!.node!;
    expect(nodes.some((n) => n.name!.startsWith('aux_towers'))).toBe(false);
    // One BatchNormalization per BN of the network outside the aux head.
    const bns = [...weights.keys()].filter((n) => n.endsWith('running_mean') && !n.startsWith('aux_towers.'));
    expect(nodes.filter((n) => n.opType === 'BatchNormalization')).toHaveLength(bns.length);

    const bytes = onnx.ModelProto.encode(proto).finish();
    const { logits } = await runOnnx(bytes, {
      input: { data: nhwcToNchw(input, shape), shape: toNchw(shape) },
    });
    expect(logits.shape).toEqual([3, 10]);
    expect(maxAbsDiff(logits.data, expected)).toBeLessThan(1e-4);
    // The input moves the logits well beyond the tolerance: nothing degenerate was compared.
    const sampleSpread = Math.max(
      ...Array.from({ length: 10 }, (_, k) => Math.abs(expected[k] - expected[10 + k])),
    );
    expect(sampleSpread).toBeGreaterThan(0.1);
  });

  it("with inputLayout 'NHWC' it takes tfjs's layout and transposes inside the graph", async () => {
    const proto = buildOnnxModel(model.desc, weights, { inputLayout: 'NHWC' });
    expect(proto.graph!.node![0]).toMatchObject({ opType: 'Transpose', input: ['input'] });
    const dims = proto.graph!.input![0].type!.tensorType!.shape!.dim!;
    expect(dims.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 'height', 'width', 1]);
    const { logits } = await runOnnx(onnx.ModelProto.encode(proto).finish(), {
      input: { data: input, shape },
    });
    expect(maxAbsDiff(logits.data, expected)).toBeLessThan(1e-4);
  });

  it('fixes the input size and batch when asked', () => {
    const proto = buildOnnxModel(model.desc, weights, { inputSize: [28, 28], batchSize: 3 });
    const dims = proto.graph!.input![0].type!.tensorType!.shape!.dim!;
    expect(dims.map((d) => Number(d.dimValue))).toEqual([3, 1, 28, 28]);
    expect(() => buildOnnxModel(model.desc, weights, { inputSize: [0, 28] })).toThrow(
      /input height must be a positive integer, got 0/,
    );
  });
});

describe("a tiny network with Archai's two stems and BN statistics from training batches, through files", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsnas-onnx-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports the saved safetensors weights; onnxruntime loads the .onnx file; logits within 1e-4', async () => {
    const c = conf({
      dataset: { name: 'cifar10', channels: 3, n_classes: 10 },
      n_cells: 5,
      aux_weight: 0,
      model_stems: { ops: ['stem_conv3x3', 'stem_conv3x3'], stem_multiplier: 3, init_node_ch: 6 },
    });
    const model = new Model(evalDesc(DARTS_V1, c), { container, affine: true, droppath: false });
    randomize(model.variables(), 3);
    // Three training-mode passes move the BN running statistics as training does.
    const next = rng(4);
    const shape: [number, number, number, number] = [4, 11, 11, 3];
    const n = shape.reduce((a, b) => a * b, 1);
    for (let step = 0; step < 3; step++) {
      const x = tf.tensor4d(uniform(n, next, -1.5, 1.5), shape);
      const { logits } = model.forward(x, true);
      logits.dispose();
      x.dispose();
    }
    const file = join(dir, 'weights.safetensors');
    await model.saveWeights(file);
    const { tensors } = await loadSafetensors(file);
    const means = tensors.get('cells.0.s0_op.bn.running_mean')!.data;
    expect(Math.max(...Array.from(means, Math.abs))).toBeGreaterThan(0.01);

    const onnxFile = join(dir, 'tiny.onnx');
    writeFileSync(onnxFile, exportOnnx(model.desc, tensors, { source: file }));
    const input = uniform(n, next, -1, 1);
    const expected = tsnasLogits(model, input, shape);
    model.dispose();
    const { logits } = await runOnnx(onnxFile, {
      input: { data: nhwcToNchw(input, shape), shape: toNchw(shape) },
    });
    expect(logits.shape).toEqual([4, 10]);
    expect(maxAbsDiff(logits.data, expected)).toBeLessThan(1e-4);
  });
});

describe('bad input is an OnnxExportError (exit code 2) naming the weights file and the tensor or op', () => {
  const c = conf({ n_cells: 3, n_reductions: 1, aux_weight: 0 });
  let model: Model;
  let weights: Map<string, NamedArray>;
  beforeAll(() => {
    model = new Model(evalDesc(DARTS_V2, c), { container, affine: true, droppath: false });
    weights = weightsOf(model.variables());
  });
  afterAll(() => model.dispose());

  function errorOf(f: () => unknown): OnnxExportError {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(OnnxExportError);
      expect((e as OnnxExportError).exitCode).toBe(2);
      return e as OnnxExportError;
    }
    throw new Error('expected an OnnxExportError');
  }

  it('a missing tensor', () => {
    const w = new Map(weights);
    w.delete('cells.1.s1_op.conv.weight');
    expect(errorOf(() => exportOnnx(model.desc, w, { source: 'run/w.safetensors' })).message).toBe(
      "run/w.safetensors: missing tensor 'cells.1.s1_op.conv.weight' (shape [1,1,32,16]) that the desc needs",
    );
  });

  it('a tensor whose shape does not match the desc', () => {
    const w = new Map(weights);
    w.set('logits_op.linear.bias', { shape: [7], data: new Float32Array(7) });
    expect(errorOf(() => exportOnnx(model.desc, w, { source: 'w.safetensors' })).message).toBe(
      "w.safetensors: tensor 'logits_op.linear.bias' has shape [7], the desc expects [10]",
    );
  });

  it('tensors the network does not have (weights of another desc)', () => {
    const w = new Map(weights);
    w.set('cells.9.s0_op.conv.weight', { shape: [1], data: new Float32Array(1) });
    expect(errorOf(() => exportOnnx(model.desc, w, { source: 'w.safetensors' })).message).toBe(
      "w.safetensors: tensor(s) cells.9.s0_op.conv.weight are not in the desc's network",
    );
  });

  it('an op without an exporter, by name and place; a plug-in exporter makes it export', async () => {
    const desc = model.desc.clone();
    const edge = desc.cellDescs()[0].nodes()[0].edges[0];
    const original = edge.opDesc.name;
    edge.opDesc.name = 'my_op';
    expect(errorOf(() => exportOnnx(desc, weights)).message).toMatch(
      /^op 'my_op' at cells\.0\.nodes\.0\.edges\.0\.op has no ONNX exporter \(known: avg_pool_3x3, .*\); pass one in the exporters option$/,
    );
    // A plug-in's exporter for 'my_op' that does what the original op did.
    const { BUILTIN_EXPORTERS } = await import('./exporters.js');
    const my = (d: OpDesc, ins: string[], ctx: Parameters<(typeof BUILTIN_EXPORTERS)['none']>[2]) =>
      BUILTIN_EXPORTERS[original](new OpDesc(original, d.params, d.inLen), ins, ctx);
    const a = exportOnnx(model.desc, weights);
    const b = exportOnnx(desc, weights, { exporters: { my_op: my } });
    expect(b.length).toBe(a.length);
  });
});
