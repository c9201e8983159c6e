import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { seedEverything } from '@tsnas/backend';
import { container } from 'tsyringe';
import { beforeAll, describe, expect, it } from 'vitest';
import { conf, ramp, useCpu } from '../__tests__/fixtures.js';
import { mixedOpFactoryOf, PRIMITIVES, TestDartsBuilder } from '../__tests__/mixed-op.js';
import { expectClose } from '../__tests__/reference.js';
import { Model, registerOp } from '../index.js';
import { segment } from './segment.js';

beforeAll(useCpu);

function gradArrays(f: () => tf.Scalar, vars: tf.Variable[]): Float32Array[] {
  const { value, grads } = tf.variableGrads(f, vars);
  const out = vars.map((v) => Float32Array.from(grads[v.name].dataSync()));
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describe('segment (a sub-tape entered as one node)', () => {
  let w1: tf.Variable;
  let w2: tf.Variable;
  let unused: tf.Variable;
  let x: tf.Tensor2D;
  beforeAll(() => {
    w1 = tf.variable(tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]));
    w2 = tf.variable(tf.tensor2d([1.5, 0.3, -0.7, 1], [2, 2]));
    unused = tf.variable(tf.tensor1d([3]));
    x = tf.tensor2d([1, 2, -3, 0.5, 2, -1], [3, 2]);
  });
  // Two segments share w1; the second reads the first's output and x again; unused is read by the
  // first segment but does not reach the loss.
  const body = (seg: (f: () => tf.Tensor) => tf.Tensor) => () => {
    const a = seg(() => {
      tf.mul(unused, 2);
      return tf.tanh(tf.matMul(x, w1));
    });
    const b = seg(() => tf.add(tf.sigmoid(tf.matMul(a, w2)), tf.matMul(x, w1)));
    return tf.sum(tf.mul(b, a)) as tf.Scalar;
  };

  it('gives the gradients of the unsegmented computation, to shared and upstream variables', () => {
    const plain = gradArrays(body(tf.tidy), [w1, w2]);
    const segmented = gradArrays(body(segment), [w1, w2]);
    expect(segmented.map((g) => Array.from(g))).toEqual(plain.map((g) => Array.from(g)));
  });

  it('computes only what is asked for and leaves no tensor behind', () => {
    const before = tf.memory().numTensors;
    const [g2] = gradArrays(body(segment), [w2]);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(g2)).toEqual(Array.from(gradArrays(body(tf.tidy), [w2])[0]));
    // No tape: plain tidy semantics.
    const y = tf.tidy(body(segment));
    expect(tf.memory().numTensors).toBe(before + 1);
    y.dispose();
  });

  it('a DARTS supernet with cells as segments has the gradients of one without', () => {
    const run = container.createChildContainer();
    registerOp(run, 'mixed_op', mixedOpFactoryOf(PRIMITIVES), 'test');
    const c = conf({
      n_cells: 3,
      n_reductions: 1,
      aux_weight: 0,
      model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
    });
    seedEverything(11);
    const model = new Model(new TestDartsBuilder().build(c), {
      container: run,
      affine: false,
      droppath: false,
    });
    const x8 = ramp([2, 8, 8, 3], 1);
    const labels = tf.oneHot(tf.tensor1d([3, 8], 'int32'), 10) as tf.Tensor2D;
    // Model.forward without segments: the same steps, each cell in a plain tidy.
    const unsegmented = (): tf.Tensor2D => {
      const stem = model.stems[0].forward(x8, true);
      let s0 = stem;
      let s1 = stem;
      for (const cell of model.cells) {
        const out = tf.tidy(() => cell.forward(s0, s1, true));
        s0 = s1;
        s1 = out;
      }
      const pooled = model.poolOp.forward(s1, true);
      const out = model.logitsOp.forward(pooled, true);
      return tf.reshape(out, [out.shape[0], -1]);
    };
    const vars = [...model.weights().values(), ...model.archParams().values()];
    const loss = (logits: () => tf.Tensor2D) => () =>
      tf.losses.softmaxCrossEntropy(labels, logits()) as tf.Scalar;
    const a = gradArrays(
      loss(() => model.forward(x8, true).logits),
      vars,
    );
    const b = gradArrays(loss(unsegmented), vars);
    // Equal up to float32 summation order (a cell's gradient contributions are summed first).
    a.forEach((g, i) => {
      const scale = Math.max(...Array.from(b[i], Math.abs), 1e-6);
      expectClose(
        Array.from(g, (v) => v / scale),
        Array.from(b[i], (v) => v / scale),
        1e-5,
      );
    });
    model.dispose();
  });
});
