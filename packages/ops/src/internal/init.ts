import * as tf from '@tensorflow/tfjs-core';
import { globalRng, type SeededRng } from '@tsnas/backend';

/**
 * PyTorch's default init for conv and linear weights, kaiming_uniform(a=sqrt(5)), reduces to
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)); linear biases use the same bound. Draws come from the
 * library's seeded RNG, so `seedEverything(s)` makes initialisation repeatable.
 */
export function uniformInit(shape: number[], fanIn: number, rng: SeededRng = globalRng()): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (2 * rng.next() - 1) * bound;
  return tf.tensor(data, shape, 'float32');
}
