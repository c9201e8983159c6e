import type * as tf from '@tensorflow/tfjs-core';
import type { TrainableModel } from '../trainable.js';

/** Every variable of a model, named `w:` (weights), `a:` (arch params) or `b:` (buffers) + name. */
export function taggedVariables(model: TrainableModel): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of model.weights()) out.set(`w:${name}`, v);
  for (const [name, v] of model.archParams()) out.set(`a:${name}`, v);
  for (const [name, v] of model.buffers()) out.set(`b:${name}`, v);
  return out;
}
