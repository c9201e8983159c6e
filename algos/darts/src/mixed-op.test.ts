// The mixed op's weighted sum: one tape node (one SIMD kernel and one dot per alpha on wasm), with
// the same values and gradients as the plain sum of products on cpu.
import '@tensorflow/tfjs-backend-cpu';
import 'reflect-metadata';
import { initBackend, registerAllGradients, seedEverything } from '@tsnas/backend';
import type { ConfModelDesc } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { builtinSource, createRunContainer } from '@tsnas/runner';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DartsModelDescBuilder } from './builder.js';
import darts, { MixedOp } from './index.js';

const SUPERNET: ConfModelDesc = {
  dataset: { name: 'tiny', channels: 3, n_classes: 4 },
  n_reductions: 1,
  n_cells: 3,
  max_final_edges: 2,
  model_post_op: 'pool_adaptive_avg2d',
  params: {},
  aux_weight: 0,
  aux_tower_stride: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
  cell: { n_nodes: 2, cell_post_op: 'concate_channels' },
};

beforeAll(async () => {
  await registerAllGradients();
});

/** One mixed op of a seeded supernet: its output and its input's and alphas' gradients. */
function edgeResults() {
  const run = createRunContainer(builtinSource(darts, new URL('../package.json', import.meta.url)));
  seedEverything(3);
  const model = new Model(new DartsModelDescBuilder().build(SUPERNET), {
    container: run,
    affine: false,
    droppath: false,
  });
  const edge = model.ops().find((m): m is MixedOp => m instanceof MixedOp)!;
  const alphas = edge.archParams()!.get('alphas');
  alphas.assign(tf.tensor1d([0.3, -0.2, 0.1, 0.5, -0.4, 0.2, 0, 0.7]));
  const x = tf.randomNormal([2, 6, 6, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
  const dy = tf.randomNormal([2, 6, 6, 4], 0, 1, 'float32', 12) as tf.Tensor4D;
  let y: number[] = [];
  const grads = tf.tidy(() => {
    const { value, grads: g } = tf.variableGrads(() => {
      const out = edge.forward(x, true);
      y = Array.from(out.dataSync());
      return tf.sum(tf.mul(out, dy));
    }, [alphas]);
    value.dispose();
    return Array.from(g[alphas.name].dataSync());
  });
  const dx = tf.tidy(() =>
    Array.from(
      tf
        .grad((t: tf.Tensor) => tf.sum(tf.mul(edge.forward(t as tf.Tensor4D, true), dy)))(x)
        .dataSync(),
    ),
  );
  tf.dispose([x, dy]);
  model.dispose();
  return { y, grads, dx };
}

describe('MixedOp (sum_k softmax(alpha)_k * op_k(x))', () => {
  it('runs one weighted-sum kernel on wasm and matches cpu in value and gradients', async () => {
    await tf.setBackend('cpu');
    const cpu = edgeResults();
    await initBackend({ backend: 'wasm' });
    const wasm = edgeResults();
    const close = (a: number[], b: number[], what: string) => {
      expect(a.length, what).toBe(b.length);
      const scale = Math.max(...b.map(Math.abs));
      for (const [i, v] of a.entries())
        expect(Math.abs(v - b[i]) / scale, `${what}[${i}]`).toBeLessThan(1e-5);
    };
    close(wasm.y, cpu.y, 'output');
    close(wasm.grads, cpu.grads, 'alpha gradient');
    close(wasm.dx, cpu.dx, 'input gradient');

    const edgeKernels = await tf.profile(() => {
      const run = createRunContainer(builtinSource(darts, new URL('../package.json', import.meta.url)));
      const model = new Model(new DartsModelDescBuilder().build(SUPERNET), {
        container: run,
        affine: false,
        droppath: false,
      });
      const edge = model.ops().find((m): m is MixedOp => m instanceof MixedOp)!;
      const alphas = edge.archParams()!.get('alphas');
      const x = tf.ones([2, 6, 6, 4]) as tf.Tensor4D;
      const { value, grads } = tf.variableGrads(() => tf.sum(edge.forward(x, true)), [alphas]);
      tf.dispose([value, ...Object.values(grads), x]);
      model.dispose();
    });
    expect(edgeKernels.kernelNames).toContain('TsnasWeightedSum');
    expect(edgeKernels.kernelNames).toContain('TsnasDot');
    expect(edgeKernels.kernelNames).not.toContain('AddN');
  });
});
