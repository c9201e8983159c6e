// The gradient of one batch as the trainer has always computed it: `batch_chunks` chunks one after
// another, each loss weighted by its share of the batch so the accumulated gradient is the full
// batch's mean. One module for every place that chunks a batch (the in-process engine, the
// data-parallel engine's threads, DARTS' second-order architecture step), so they all cut the same
// rows and sum the same way.
import * as tf from '@tensorflow/tfjs-core';
import { crossEntropy, topkCorrect } from './losses.js';
import type { TrainableModel } from './trainable.js';

/** The parts of a trainer's profile that define its training loss. */
export interface LossConf {
  label_smoothing?: number;
  aux_weight?: number;
}

export type LossFn = (x: tf.Tensor4D, y: tf.Tensor1D) => { loss: tf.Scalar; logits: tf.Tensor2D };

/** CE(logits) + aux_weight * CE(aux) when the model returns an auxiliary head's logits. */
export function modelLoss(
  model: TrainableModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  training: boolean,
  conf: LossConf,
): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const { logits, aux } = model.forward(x, training);
  const smoothing = conf.label_smoothing ?? 0;
  let loss = crossEntropy(logits, y, smoothing);
  const auxWeight = conf.aux_weight ?? 0;
  if (aux && auxWeight > 0) loss = tf.add(loss, tf.mul(crossEntropy(aux, y, smoothing), auxWeight));
  return { loss, logits };
}

/** Eval-mode sums over some rows: the loss times rows and the top-1 / top-5 hits. */
export interface EvalSums {
  lossSum: number;
  top1Sum: number;
  top5Sum: number;
}

/** The model in eval mode (BN running statistics, no tape) on `x`: sums over its rows. */
export function evalSums(model: TrainableModel, x: tf.Tensor4D, y: tf.Tensor1D, smoothing = 0): EvalSums {
  const n = x.shape[0];
  return tf.tidy(() => {
    const { logits } = model.forward(x, false);
    const loss = crossEntropy(logits, y, smoothing).dataSync()[0];
    const [top1, top5] = topkCorrect(logits, y, [1, 5]);
    return { lossSum: loss * n, top1Sum: top1 * n, top5Sum: top5 * n };
  });
}

export interface ChunkRange {
  /** First row in the batch. */
  start: number;
  len: number;
}

/**
 * The trainer's chunking of a batch of `n` rows into `chunks` parts: rows
 * [k * ceil(n / chunks), ...), so the last chunk may be shorter and trailing chunks may be empty
 * (they are left out).
 */
export function chunkRanges(n: number, chunks: number): ChunkRange[] {
  const size = Math.ceil(n / Math.max(1, chunks));
  const out: ChunkRange[] = [];
  for (let start = 0; start < n; start += size) out.push({ start, len: Math.min(size, n - start) });
  return out;
}

/** Sums over the rows a replica computed; grads are already weighted by rows / batch size. */
export interface PartialGradients {
  lossSum: number;
  top1Sum: number;
  top5Sum: number;
  grads: Map<string, tf.Tensor>;
}

/**
 * Forward + backward over `ranges` (rows of `x`), accumulating the gradients of `vars` weighted by
 * len / `batchSize`. A single range covering a whole batch of `batchSize` rows is differentiated
 * without slicing or weighting, exactly as the trainer did before chunks existed.
 */
export function accumulateChunks(
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  ranges: ChunkRange[],
  batchSize: number,
  vars: Map<string, tf.Variable>,
  loss: LossFn,
): PartialGradients {
  const varList = [...vars.values()];
  const n = batchSize;
  const whole = ranges.length === 1 && ranges[0].start === 0 && ranges[0].len === n && x.shape[0] === n;
  let acc: Map<string, tf.Tensor> | null = null;
  let lossSum = 0;
  let top1Sum = 0;
  let top5Sum = 0;
  for (const { start, len } of ranges) {
    const { x: xs, y: ys } = whole ? { x, y } : sliceRows(x, y, { start, len });
    let logits: tf.Tensor2D | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const out = loss(xs, ys);
      logits = tf.keep(out.logits);
      return whole ? out.loss : tf.mul(out.loss, len / n);
    }, varList);
    const [t1, t5] = topkCorrect(logits!, ys, [1, 5]);
    (logits as unknown as tf.Tensor).dispose();
    lossSum += value.dataSync()[0] * (whole ? 1 : n / len) * len;
    top1Sum += t1 * len;
    top5Sum += t5 * len;
    value.dispose();
    if (!whole) {
      xs.dispose();
      ys.dispose();
    }
    const named = new Map<string, tf.Tensor>();
    for (const [name, v] of vars) if (grads[v.name]) named.set(name, grads[v.name]);
    if (!acc) acc = named;
    else addInto(acc, named);
  }
  return { lossSum, top1Sum, top5Sum, grads: acc ?? new Map() };
}

/** Rows `range` of a batch, as new tensors the caller disposes. */
export function sliceRows(
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  range: ChunkRange,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.slice(x, [range.start, 0, 0, 0], [range.len, -1, -1, -1]),
    y: tf.slice(y, [range.start], [range.len]),
  };
}

/**
 * acc += scale * more, by name, disposing what it replaces and what it consumes (`more` is used up).
 * A name new to `acc` is moved in (scaled when scale != 1).
 */
export function addInto(acc: Map<string, tf.Tensor>, more: Map<string, tf.Tensor>, scale = 1): void {
  for (const [k, g] of more) {
    const term = scale === 1 ? g : tf.mul(g, scale);
    if (term !== g) g.dispose();
    const prev = acc.get(k);
    if (prev) {
      acc.set(k, tf.add(prev, term));
      prev.dispose();
      term.dispose();
    } else acc.set(k, term);
  }
}
