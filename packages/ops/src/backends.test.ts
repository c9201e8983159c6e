import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, seedEverything } from '@tsnas/backend';
import { DARTS_V2, genotypeToTemplate, ModelDescBuilder } from '@tsnas/descs';
import { tensorflowAvailability } from '@tsnas/backend/testing';
import { container } from 'tsyringe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conf, opDesc, ramp, useCpu } from './__tests__/fixtures.js';
import { mixedOpFactoryOf, PRIMITIVES, TestDartsBuilder } from './__tests__/mixed-op.js';
import { expectClose } from './__tests__/reference.js';
import { createOp, Model, registerOp } from './index.js';

// Every op's forward pass and gradients on wasm and tensorflow (when built) against the cpu
// reference backend.
const tensorflow = await tensorflowAvailability();
const BACKENDS = [
  { backend: 'wasm' as const, skip: '' },
  { backend: 'tensorflow' as const, skip: tensorflow.available ? '' : ` (skipped: ${tensorflow.reason})` },
];

beforeAll(async () => {
  const info = await initBackend({ backend: 'wasm' });
  expect(info.name).toBe('wasm');
  await useCpu();
});
afterAll(useCpu);

type Grads = Map<string, Float32Array>;

type Accelerated = (typeof BACKENDS)[number]['backend'];

/** Runs `fn` on cpu and then on `backend` and returns both results. */
async function onBoth<T>(backend: Accelerated, fn: () => T): Promise<[T, T]> {
  await tf.setBackend('cpu');
  const cpu = fn();
  await tf.setBackend(backend);
  const other = fn();
  await tf.setBackend('cpu');
  return [cpu, other];
}

/** Each tensor compared relative to its largest cpu gradient (float32 sums run in another order). */
function expectSameGrads(cpu: Grads, wasm: Grads, tol = 1e-4): void {
  expect([...wasm.keys()]).toEqual([...cpu.keys()]);
  for (const [name, g] of cpu) {
    const scale = Math.max(...Array.from(g, Math.abs), 1e-6);
    const w = wasm.get(name)!;
    try {
      expectClose(
        Array.from(w, (v) => v / scale),
        Array.from(g, (v) => v / scale),
        tol,
      );
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
}

function gradsOf(loss: () => tf.Scalar, vars: [string, tf.Variable][]): Grads {
  const { value, grads } = tf.variableGrads(
    loss,
    vars.map(([, v]) => v),
  );
  const out = new Map(vars.map(([name, v]) => [name, Float32Array.from(grads[v.name].dataSync())]));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe.each(BACKENDS)('$backend backend with @tsnas/backend training kernels$skip', ({ backend, skip }) => {
  if (skip) {
    // tensorflow is not built on this machine (the reason is in `skip`): one skipped entry says so
    // in the report instead of the backend's cases silently missing.
    it.skip(`all cases${skip}`, () => {});
    return;
  }
  it('gives the cpu gradients for a tiny search supernet (all DARTS primitives but max_pool_3x3)', async () => {
    const run = container.createChildContainer();
    registerOp(run, 'mixed_op', mixedOpFactoryOf(PRIMITIVES.filter((p) => p !== 'max_pool_3x3')), 'test');
    const c = conf({
      n_cells: 3,
      n_reductions: 1,
      aux_weight: 0,
      model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
    });
    seedEverything(9);
    const model = new Model(new TestDartsBuilder().build(c), {
      container: run,
      affine: false,
      droppath: false,
    });
    const x = ramp([2, 9, 9, 3], 1); // odd size: every stride-2 op takes its odd-size path
    const labels = tf.oneHot(tf.tensor1d([2, 5], 'int32'), 10) as tf.Tensor2D;
    const vars = [...model.weights(), ...model.archParams()];
    const loss = () => tf.losses.softmaxCrossEntropy(labels, model.forward(x, true).logits) as tf.Scalar;
    const [cpu, wasm] = await onBoth(backend, () => gradsOf(loss, vars));
    expect(cpu.size).toBe(vars.length);
    expectSameGrads(cpu, wasm);
    model.dispose();
  });

  it('builds the DARTS_V2 CIFAR-10 network there with its exact parameter counts, and its forward pass leaks nothing', async () => {
    await tf.setBackend(backend);
    try {
      const c = conf({ model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 36 } });
      const model = new Model(new ModelDescBuilder().build(c, genotypeToTemplate(DARTS_V2, c)), {
        container,
        affine: true,
        droppath: true,
      });
      expect([model.paramCount({ includeAux: false }), model.paramCount()]).toEqual([3_349_342, 3_825_768]);
      const x = ramp([2, 32, 32, 3], 1);
      const before = tf.memory().numTensors;
      tf.dispose(tf.tidy(() => model.forward(x, false).logits));
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
      model.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });

  // The §5 ops one by one (the supernet above covers them inside cells): each op's output and the
  // gradients of its input and weights, in training mode (batch statistics) and in eval mode.
  const SINGLE_OPS: [name: string, stride: number, h: number, chIn: number, chOut: number][] = [
    ...[
      'max_pool_3x3',
      'avg_pool_3x3',
      'skip_connect',
      'sep_conv_3x3',
      'sep_conv_5x5',
      'sep_conv_7x7',
      'dil_conv_3x3',
      'dil_conv_5x5',
      'none',
    ].flatMap((name) =>
      [1, 2].flatMap((stride) =>
        [7, 8].map((h): [string, number, number, number, number] => [name, stride, h, 4, 4]),
      ),
    ),
    ['convbnrelu_3x3', 1, 8, 4, 6],
    ['convbnrelu_1x1', 1, 7, 4, 6],
    ['identity', 1, 7, 4, 4],
    ['prepr_reduce', 2, 8, 4, 6],
    ['prepr_reduce', 2, 7, 4, 6],
    ['prepr_normal', 1, 7, 4, 6],
    ['stem_conv3x3', 1, 8, 3, 6],
    ['stem_conv3x3_s4', 1, 16, 3, 6],
    ['stem_conv3x3_s4s2', 1, 16, 3, 6],
  ];
  it.each(SINGLE_OPS)(
    '%s stride %i on %ix%i: output and gradients match the cpu',
    async (name, stride, h, chIn, chOut) => {
      seedEverything(5);
      const op = createOp(container, opDesc(name, chIn, chOut, stride), true);
      const x = tf.variable(ramp([2, h, h, chIn], 1));
      const vars: [string, tf.Variable][] = [['x', x], ...op.namedWeights()];
      const r = tf.tidy(() => ramp(op.forward(x as tf.Tensor4D, true).shape, 1));
      const [cpu, other] = await onBoth(backend, () =>
        gradsOf(() => tf.sum(tf.mul(op.forward(x as tf.Tensor4D, true), r)), vars),
      );
      expectSameGrads(cpu, other);
      const [yc, yo] = await onBoth(backend, () =>
        Array.from(tf.tidy(() => op.forward(x as tf.Tensor4D, false)).dataSync()),
      );
      const scale = Math.max(...yc.map(Math.abs), 1e-6);
      expectClose(
        yo.map((v) => v / scale),
        yc.map((v) => v / scale),
        1e-4,
      );
      op.dispose();
      x.dispose();
    },
  );

  it('dil_conv at stride 2 (one native kernel on wasm, rewritten on cpu) has the cpu output and gradients', async () => {
    for (const [name, size] of [
      ['dil_conv_3x3', 9],
      ['dil_conv_5x5', 8],
    ] as const) {
      seedEverything(4);
      const op = createOp(container, opDesc(name, 4, 4, 2), false);
      const x = tf.variable(ramp([2, size, size, 4], 1));
      const vars: [string, tf.Variable][] = [['x', x], ...op.namedWeights()];
      const r = tf.tidy(() => ramp(op.forward(x as tf.Tensor4D, true).shape, 1));
      const [cpu, wasm] = await onBoth(backend, () =>
        gradsOf(() => tf.sum(tf.mul(op.forward(x as tf.Tensor4D, true), r)), vars),
      );
      expectSameGrads(cpu, wasm);
      const [yc, yw] = await onBoth(backend, () =>
        Array.from(tf.tidy(() => op.forward(x as tf.Tensor4D, false)).dataSync()),
      );
      expectClose(yw, yc, 1e-4);
      op.dispose();
      x.dispose();
    }
  });

  it('max_pool_3x3 gradients match the cpu (skipped while the MaxPoolGrad kernel is wrong)', async (ctx) => {
    // tfjs-backend-wasm 4.22's MaxPoolGrad misroutes the gradient of windows whose maximum is
    // negative; @tsnas/backend is expected to replace it. Probe for the bug first.
    const probe = tf.sub(ramp([1, 4, 4, 1], 1), 10) as tf.Tensor4D;
    const [pc, pw] = await onBoth(backend, () =>
      Array.from(
        tf
          .grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 3, 1, 'valid')))(probe)
          .dataSync(),
      ),
    );
    if (pc.some((v, i) => v !== pw[i]))
      ctx.skip('tfjs-backend-wasm MaxPoolGrad is wrong for negative windows');
    for (const stride of [1, 2]) {
      const op = createOp(container, opDesc('max_pool_3x3', 4, 4, stride), false);
      const x = tf.variable(ramp([2, 9, 9, 4], 1));
      const r = ramp([2, stride === 1 ? 9 : 5, stride === 1 ? 9 : 5, 4], 1);
      const [cpu, wasm] = await onBoth(backend, () =>
        gradsOf(() => tf.sum(tf.mul(op.forward(x as tf.Tensor4D, true), r)), [['x', x]]),
      );
      expectSameGrads(cpu, wasm, 1e-5);
    }
  });
});
