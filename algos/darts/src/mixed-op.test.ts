// The mixed op's weighted sum: one tape node (one SIMD kernel and one dot per alpha on wasm), with
// the same values and gradients as the plain sum of products on cpu.
import '@tensorflow/tfjs-backend-cpu';
import { initBackend, registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { tinySupernet } from './__tests__/supernet.js';
import { MixedOp } from './index.js';

beforeAll(async () => {
  await registerAllGradients();
});

/** The first mixed op of a seeded tiny supernet, with its alphas and the model to dispose. */
function firstEdge() {
  const model = tinySupernet();
  const edge = model.ops().find((m): m is MixedOp => m instanceof MixedOp)!;
  return { model, edge, alphas: edge.archParams()!.get('alphas') };
}

/** The edge's output and the gradients of sum(output * dy) for its input and its alphas. */
function edgeResults() {
  const { model, edge, alphas } = firstEdge();
  alphas.assign(tf.tensor1d([0.3, -0.2, 0.1, 0.5, -0.4, 0.2, 0, 0.7]));
  const x = tf.randomNormal([2, 6, 6, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
  const dy = tf.randomNormal([2, 6, 6, 4], 0, 1, 'float32', 12) as tf.Tensor4D;
  const weighted = (t: tf.Tensor) => tf.sum(tf.mul(edge.forward(t as tf.Tensor4D, true), dy));
  const y = tf.tidy(() => Array.from(edge.forward(x, true).dataSync()));
  const grads = tf.tidy(() => {
    const { value, grads: g } = tf.variableGrads(() => weighted(x) as tf.Scalar, [alphas]);
    value.dispose();
    return Array.from(g[alphas.name].dataSync());
  });
  const dx = tf.tidy(() => Array.from(tf.grad(weighted)(x).dataSync()));
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

    const kernels = await tf.profile(() => {
      const { model, edge, alphas } = firstEdge();
      const x = tf.ones([2, 6, 6, 4]) as tf.Tensor4D;
      const { value, grads } = tf.variableGrads(() => tf.sum(edge.forward(x, true)), [alphas]);
      tf.dispose([value, ...Object.values(grads), x]);
      model.dispose();
    });
    expect(kernels.kernelNames).toContain('TsnasWeightedSum');
    expect(kernels.kernelNames).toContain('TsnasDot');
    expect(kernels.kernelNames).not.toContain('AddN');
  });
});
