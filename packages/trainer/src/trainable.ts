// What the trainer and the gradient engines need of a model and of data: in a module of its own, so
// the engines (parallel/) and the trainer import it without importing each other.
import type { SeededRng } from '@tsnas/backend';
import type * as tf from '@tensorflow/tfjs-core';

/** What the trainer needs of a model (implemented by @tsnas/ops's Model). */
export interface TrainableModel {
  forward(x: tf.Tensor4D, training: boolean): { logits: tf.Tensor2D; aux: tf.Tensor2D | null };
  weights(): Map<string, tf.Variable>;
  archParams(): Map<string, tf.Variable>;
  buffers(): Map<string, tf.Variable>;
  setDropPathProb(p: number): void;
  getState(): Map<string, tf.Tensor>;
  setState(state: Map<string, tf.Tensor>): void;
  /** The drop-path mask stream, saved in checkpoints so a resumed run draws the same masks. */
  dropPathRng?: SeededRng;
}

export interface Batch {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** A re-iterable source of batches whose order is a function of the epoch set last. */
export interface BatchSource {
  readonly length: number;
  setEpoch(epoch: number): void;
  [Symbol.iterator](): Iterator<Batch>;
}

export interface DataLoaders {
  train: BatchSource | null;
  val: BatchSource | null;
  test: BatchSource | null;
}
