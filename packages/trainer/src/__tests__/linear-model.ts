// A model for the trainer's tests: softmax regression on flattened 2x2x1 images, small enough to
// reason about. Like @tsnas/ops' Model, setState checks every name and shape before assigning.
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableModel } from '../trainable.js';

export class LinearModel implements TrainableModel {
  w = tf.variable(tf.zeros([4, 3]), true, `w${Math.random()}`);
  b = tf.variable(tf.zeros([3]), true, `b${Math.random()}`);
  forward(x: tf.Tensor4D) {
    const logits = tf.add(tf.matMul(tf.reshape(x, [x.shape[0], 4]), this.w), this.b) as tf.Tensor2D;
    return { logits, aux: null };
  }
  weights() {
    return new Map([
      ['w', this.w],
      ['b', this.b],
    ]);
  }
  archParams() {
    return new Map<string, tf.Variable>();
  }
  buffers() {
    return new Map<string, tf.Variable>();
  }
  setDropPathProb() {}
  getState() {
    return new Map<string, tf.Tensor>([
      ['w', this.w.clone()],
      ['b', this.b.clone()],
    ]);
  }
  // Like @tsnas/ops' Model: every name and shape is checked before anything is assigned.
  setState(s: Map<string, tf.Tensor>) {
    for (const [name, v] of this.weights()) {
      const t = s.get(name);
      if (!t || t.shape.join() !== v.shape.join()) throw new Error(`state: tensor '${name}' does not fit`);
    }
    this.w.assign(s.get('w') as tf.Tensor2D);
    this.b.assign(s.get('b') as tf.Tensor1D);
  }
  dispose() {
    this.w.dispose();
    this.b.dispose();
  }
}
