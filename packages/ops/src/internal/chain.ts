// A sequence of single-input layers (ReLU, conv, BN) trained as one fused tape node. The forward
// keeps the chain input, each BN's normalised output and the inputs of convs that do not follow a
// ReLU; everything else (ReLU outputs, gradients between layers) is recomputed or derived inside
// the backward, on demand.
import { fusedReluGradAvailable, RELU_GRAD } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { alias, fusedOp, type Memo } from './fused.js';

export interface LayerForward {
  y: tf.Tensor4D;
  /** Extra tensors the backward needs (BN: its scale), saved with the chain. */
  state: tf.Tensor[];
}

/** What a layer's backward gets; `input` and `output` are computed on first use. */
export interface LayerGradArgs {
  dy: tf.Tensor4D;
  input: () => tf.Tensor4D;
  output: () => tf.Tensor4D;
  state: tf.Tensor[];
  memo: Memo;
  /** A memo key prefix unique to this layer in this chain. */
  key: string;
}

export interface ChainLayer {
  /** Variables whose gradients paramGrads returns, in order. */
  readonly params: tf.Variable[];
  /** The backward reads the layer's input / output. */
  readonly needsInput: boolean;
  readonly needsOutput: boolean;
  /** The output is relu(input), cheap to recompute instead of saving. */
  readonly isRelu: boolean;
  /** Runs untaped (inside the fused node). */
  forward(x: tf.Tensor4D): LayerForward;
  inputGrad(a: LayerGradArgs): tf.Tensor4D;
  paramGrads(a: LayerGradArgs): tf.Tensor[];
}

export class ReluLayer implements ChainLayer {
  readonly params: tf.Variable[] = [];
  readonly needsInput = true;
  readonly needsOutput = false;
  readonly isRelu = true;
  forward(x: tf.Tensor4D): LayerForward {
    return { y: tf.relu(x), state: [] };
  }
  inputGrad(a: LayerGradArgs): tf.Tensor4D {
    // tfjs's relu gradient: dy where x > 0 (0 at x == 0); on wasm one SIMD kernel instead of two.
    if (fusedReluGradAvailable()) {
      return tf.engine().runKernel(RELU_GRAD, { dy: a.dy, x: a.input() }, {}) as tf.Tensor4D;
    }
    return tf.mul(a.dy, tf.step(a.input()));
  }
  paramGrads(): tf.Tensor[] {
    return [];
  }
}

/**
 * Runs `layers` on `x` as one tape node when a gradient is being recorded (plain forward
 * otherwise). Gradients flow to `x` and to every layer's params.
 */
export function runChain(layers: ChainLayer[], x: tf.Tensor4D): tf.Tensor4D {
  const n = layers.length;
  // Boundary i is the input of layer i (boundary n: the chain output). Which ones to save:
  const needed = new Array<boolean>(n + 1).fill(false);
  needed[0] = true;
  layers.forEach((l, i) => {
    if (l.needsInput) needed[i] = true;
    if (l.needsOutput) needed[i + 1] = true;
  });
  // Outputs of a ReLU are recomputed from its input, which its own backward needs anyway.
  const saveAt = needed.map((need, i) => need && !(i > 0 && layers[i - 1].isRelu));
  const params = layers.flatMap((l) => l.params);
  const stateCounts: number[] = [];

  return fusedOp(
    [x, ...params],
    (save) => {
      const keep: tf.Tensor[] = [x];
      let t = x;
      const states: tf.Tensor[] = [];
      layers.forEach((l, i) => {
        const { y, state } = l.forward(t);
        stateCounts[i] = state.length;
        states.push(...state);
        t = y;
        if (saveAt[i + 1]) keep.push(t);
      });
      save([...keep, ...states]);
      return t;
    },
    (dy, saved, memo) => {
      // Unpack what the forward saved.
      const boundaryTensors = new Map<number, tf.Tensor4D>();
      let k = 0;
      saveAt.forEach((s, i) => {
        if (s) boundaryTensors.set(i, saved[k++] as tf.Tensor4D);
      });
      const states: tf.Tensor[][] = [];
      for (let i = 0; i < n; i++) {
        states.push(saved.slice(k, k + stateCounts[i]));
        k += stateCounts[i];
      }
      const boundary = (i: number): tf.Tensor4D => {
        const b = boundaryTensors.get(i);
        if (b) return b;
        return memo.get(`b${i}`, () => layers[i - 1].forward(boundary(i - 1)).y) as tf.Tensor4D;
      };
      const args = (i: number, grad: tf.Tensor4D): LayerGradArgs => ({
        dy: grad,
        input: () => boundary(i),
        output: () => boundary(i + 1),
        state: states[i],
        memo,
        key: `l${i}`,
      });
      // Gradient at boundary i (i == n: dy itself).
      const gradAt = (i: number): tf.Tensor4D => {
        if (i === n) return dy;
        return memo.get(`g${i}`, () => layers[i].inputGrad(args(i, gradAt(i + 1)))) as tf.Tensor4D;
      };
      const thunks: (() => tf.Tensor)[] = [() => alias(gradAt(0))];
      layers.forEach((l, i) => {
        l.params.forEach((_, j) => {
          thunks.push(() => {
            const grads = memo.getAll(`p${i}`, () => l.paramGrads(args(i, gradAt(i + 1))));
            return alias(grads[j]);
          });
        });
      });
      return thunks;
    },
  );
}
