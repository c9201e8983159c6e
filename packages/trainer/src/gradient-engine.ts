// Where a trainer's gradients are computed. The trainer asks for "loss, top1/top5 and the
// gradients of these variables on this batch" and applies the optimiser itself; the engine decides
// which threads do the forward and backward passes.
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableModel } from './trainable.js';
import { accumulateChunks, chunkRanges, type EvalSums, evalSums, type LossFn } from './gradients.js';

export interface GradientTask {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** The variables to differentiate, by name: entries of the model's weights() or archParams(). */
  vars: Map<string, tf.Variable>;
  /** `batch_chunks`: rows are processed in this many chunks, one after another (memory). */
  chunks: number;
  /** The training loss on some rows, computed in this thread on the trainer's model. */
  loss: LossFn;
  /** A variable the loss does not reach gets zeros (true) or no entry (false, default). */
  zerosForMissing?: boolean;
}

export interface GradientResult {
  /** Means over the batch. */
  loss: number;
  top1: number;
  top5: number;
  /** Gradients of the batch's mean loss; the caller owns (and disposes) them. */
  grads: Map<string, tf.Tensor>;
}

export interface GradientEngine {
  /** Threads that compute gradients (1: this one only). */
  readonly replicas: number;
  compute(model: TrainableModel, task: GradientTask): GradientResult;
  /**
   * The model in eval mode on a batch (validation, test), split over the engine's threads like
   * compute; absent: the trainer evaluates in its own thread.
   */
  evaluate?(model: TrainableModel, x: tf.Tensor4D, y: tf.Tensor1D, smoothing: number): EvalSums;
  /** The drop-path probability the trainer set on its model, for replicas in other threads. */
  setDropPathProb(p: number): void;
  /** Frees the engine's threads; the engine cannot be used afterwards. */
  dispose(): void;
}

/** Fills in zeros for variables without a gradient (the arch step wants every alpha). */
export function withZeros(
  grads: Map<string, tf.Tensor>,
  vars: Map<string, tf.Variable>,
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [name, v] of vars) out.set(name, grads.get(name) ?? tf.zerosLike(v));
  return out;
}

/** Today's code path: every chunk in this thread, on the trainer's model. */
export class InProcessGradientEngine implements GradientEngine {
  readonly replicas = 1;

  compute(_model: TrainableModel, task: GradientTask): GradientResult {
    const n = task.x.shape[0];
    const ranges = chunkRanges(n, task.chunks);
    const part = accumulateChunks(task.x, task.y, ranges, n, task.vars, task.loss);
    return {
      loss: part.lossSum / n,
      top1: part.top1Sum / n,
      top5: part.top5Sum / n,
      grads: task.zerosForMissing ? withZeros(part.grads, task.vars) : part.grads,
    };
  }

  evaluate(model: TrainableModel, x: tf.Tensor4D, y: tf.Tensor1D, smoothing: number): EvalSums {
    return evalSums(model, x, y, smoothing);
  }

  setDropPathProb(_p: number): void {}

  dispose(): void {}
}
