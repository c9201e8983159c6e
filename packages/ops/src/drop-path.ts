import * as tf from '@tensorflow/tfjs-core';
import type { SeededRng } from '@tsnas/backend';

/**
 * DropPath (Archai's DropPath_): while training with p > 0, each sample's output is zeroed with
 * probability p and the survivors scaled by 1/(1-p). The mask comes from a SeededRng, so runs with
 * the same seed drop the same paths.
 */
export class DropPath {
  p = 0;
  constructor(private readonly rng: () => SeededRng) {}

  forward(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (!training || this.p <= 0) return x;
    const keep = 1 - this.p;
    const rng = this.rng();
    const b = x.shape[0];
    const mask = new Float32Array(b);
    for (let i = 0; i < b; i++) mask[i] = rng.next() < keep ? 1 : 0;
    return tf.mul(tf.div(x, keep), tf.tensor4d(mask, [b, 1, 1, 1]));
  }
}

/** Archai's can_drop_path table, for ops created outside a DagEdge. */
export function canDropPathByName(name: string): boolean {
  return !['skip_connect', 'identity', 'mixed_op', 'div_op', 'gs_op', 'xnas_op'].includes(name);
}
