// DARTS' bilevel architecture step (Archai §6.3-§6.4). Before each weight step, the alphas take one
// Adam step on a validation batch: first order (`unrolled: false`) uses dL_val/dalpha at the current
// weights; second order (`unrolled: true`) differentiates through one virtual SGD step of the
// weights, with the Hessian-vector product by finite differences (DARTS eq. 8).
import {
  addInto,
  type Batch,
  type BatchSource,
  chunkRanges,
  createOptimizer,
  type DataLoaders,
  type Optimizer,
  type OptimizerConf,
  SGD,
  sliceRows,
  type TrainableModel,
  Trainer,
  type TrainerConf,
  type TrainerOptions,
  takePrefix,
  withPrefix,
} from '@tsnas/trainer';
import * as tf from '@tensorflow/tfjs-core';

export interface BilevelTrainerConf extends TrainerConf {
  alpha_optimizer: OptimizerConf;
  /** Second order (true) or first order (false, DARTS' "first-order approximation"). */
  unrolled?: boolean;
}

type Grads = Map<string, tf.Tensor>;

function gradsFor(f: () => tf.Scalar, vars: Map<string, tf.Variable>): { value: number; grads: Grads } {
  const list = [...vars.values()];
  const { value, grads } = tf.variableGrads(f, list);
  const out: Grads = new Map();
  for (const [name, v] of vars) {
    const g = grads[v.name];
    out.set(name, g ?? tf.zerosLike(v));
  }
  const val = value.dataSync()[0];
  value.dispose();
  return { value: val, grads: out };
}

function disposeAll(m: Grads): void {
  for (const t of m.values()) t.dispose();
}

export class BilevelArchTrainer extends Trainer {
  private alphaOptimizer: Optimizer | null = null;
  private valIterator: Iterator<Batch> | null = null;

  constructor(conf: TrainerConf, model: TrainableModel, opts: TrainerOptions = {}) {
    super(conf, model, opts);
  }

  private get bilevelConf(): BilevelTrainerConf {
    return this.conf as BilevelTrainerConf;
  }

  protected override preFit(data: DataLoaders): void {
    if (!data.val) {
      throw Object.assign(
        new Error(
          `${this.conf.title}: bilevel search needs a validation split (nas.search.loader.val_ratio > 0)`,
        ),
        { exitCode: 2 },
      );
    }
    const conf = this.bilevelConf.alpha_optimizer;
    this.alphaOptimizer ??= createOptimizer(conf, `${this.conf.title}.alpha_optimizer`);
  }

  protected override preEpoch(): void {
    this.valIterator = (this.data!.val as BatchSource)[Symbol.iterator]();
  }

  private nextValBatch(): Batch {
    let r = this.valIterator!.next();
    if (r.done) {
      this.valIterator = (this.data!.val as BatchSource)[Symbol.iterator]();
      r = this.valIterator.next();
    }
    return r.value as Batch;
  }

  protected override preStep(batch: Batch): void {
    const val = this.nextValBatch();
    try {
      const grads = this.archGradients(batch, val);
      this.alphaOptimizer!.step(this.model.archParams(), grads, this.bilevelConf.alpha_optimizer.lr);
      disposeAll(grads);
    } finally {
      val.x.dispose();
      val.y.dispose();
    }
  }

  private lossFn(b: Batch): () => tf.Scalar {
    return () => this.computeLoss(b.x, b.y, true).loss;
  }

  /**
   * The gradient the alpha optimiser receives for one (train, val) batch pair. With
   * `batch_chunks > 1` it is the size-weighted sum of the chunks' gradients, i.e. the full batch's
   * (Archai keeps only the last chunk's, quirk §11.2; we accumulate). Chunks are the trainer's
   * (chunkRanges), summed by the trainer's addInto, so both steps cut and add batches alike.
   */
  archGradients(train: Batch, val: Batch): Grads {
    const alphas = this.model.archParams();
    const chunks = Math.max(1, this.conf.batch_chunks ?? 1);
    if (!this.bilevelConf.unrolled) {
      // First order is a plain gradient at the current weights: the trainer's gradient engine
      // computes it chunk by chunk (over its threads when it has several), as for the weights.
      return this.gradients.compute(this.model, {
        x: val.x,
        y: val.y,
        vars: alphas,
        chunks,
        loss: (x, y) => this.computeLoss(x, y, true),
        zerosForMissing: true,
      }).grads;
    }
    // Second order stays in this thread. Chunk k of val pairs with chunk k of train (or train's
    // first, when train has fewer rows); each is weighted by its share of the validation batch.
    if (chunks === 1) return this.unrolledArchGradients(train, val, alphas);
    const n = val.x.shape[0];
    const trainRanges = chunkRanges(train.x.shape[0], chunks);
    const acc: Grads = new Map();
    for (const [k, range] of chunkRanges(n, chunks).entries()) {
      const v = sliceRows(val.x, val.y, range);
      const t = sliceRows(train.x, train.y, trainRanges[k] ?? trainRanges[0]);
      try {
        addInto(acc, this.unrolledArchGradients(t, v, alphas), range.len / n);
      } finally {
        tf.dispose([t.x, t.y, v.x, v.y]);
      }
    }
    return acc;
  }

  private unrolledArchGradients(train: Batch, val: Batch, alphas: Map<string, tf.Variable>): Grads {
    const weights = this.model.weights();
    const lr = this.lr;
    const opt = this.optimizer;
    const mu = this.conf.optimizer.momentum ?? 0;
    const wd = this.conf.optimizer.decay ?? 0;
    const saved = new Map([...weights].map(([k, v]) => [k, tf.clone(v)]));
    // 1. Unroll: w' = w - lr * (mu * m + dL_train/dw + wd * w).
    const { grads: gTrain } = gradsFor(this.lossFn(train), weights);
    tf.tidy(() => {
      for (const [k, v] of weights) {
        const m = opt instanceof SGD ? opt.momentumBuffer(k) : undefined;
        let step = tf.add(gTrain.get(k)!, tf.mul(v, wd));
        if (m && mu !== 0) step = tf.add(step, tf.mul(m, mu));
        v.assign(tf.sub(v, tf.mul(step, lr)));
      }
    });
    disposeAll(gTrain);
    // 2. dL_val(w', alpha) with respect to alpha and w'.
    const all = new Map<string, tf.Variable>([
      ...alphas,
      ...[...weights].map(([k, v]) => [`w:${k}`, v] as const),
    ]);
    const { grads: gVal } = gradsFor(this.lossFn(val), all);
    const dAlpha: Grads = new Map([...alphas.keys()].map((k) => [k, gVal.get(k)!]));
    const dW = new Map([...weights.keys()].map((k) => [k, gVal.get(`w:${k}`)!]));
    // 3. Hessian-vector product by central differences around the real weights w.
    const norm = tf.tidy(
      () => tf.sqrt(tf.addN([...dW.values()].map((g) => tf.sum(tf.square(g))))).dataSync()[0],
    );
    const eps = 0.01 / Math.max(norm, 1e-12);
    const gradAt = (sign: number): Grads => {
      tf.tidy(() => {
        for (const [k, v] of weights) v.assign(tf.add(saved.get(k)!, tf.mul(dW.get(k)!, sign * eps)));
      });
      return gradsFor(this.lossFn(train), alphas).grads;
    };
    const gPlus = gradAt(1);
    const gMinus = gradAt(-1);
    for (const [k, v] of weights) v.assign(saved.get(k)!);
    // 4. alpha gradient = dAlpha - lr * (g+ - g-) / (2 eps).
    const out: Grads = new Map();
    for (const k of alphas.keys()) {
      out.set(
        k,
        tf.tidy(() => tf.sub(dAlpha.get(k)!, tf.mul(tf.sub(gPlus.get(k)!, gMinus.get(k)!), lr / (2 * eps)))),
      );
    }
    for (const m of [gVal, gPlus, gMinus, saved]) disposeAll(m as Grads);
    return out;
  }

  protected override updateCheckpoint(tensors: Map<string, tf.Tensor>): Record<string, unknown> {
    const state = super.updateCheckpoint(tensors);
    const a = this.alphaOptimizer!.getState();
    withPrefix(a.tensors, 'alpha_optimizer.', tensors);
    return { ...state, alpha_optimizer: a.scalars };
  }

  protected override restoreCheckpoint(state: Record<string, any>, tensors: Map<string, tf.Tensor>): number {
    const epoch = super.restoreCheckpoint(state, tensors);
    this.alphaOptimizer!.setState({
      tensors: takePrefix(tensors, 'alpha_optimizer.'),
      scalars: state.alpha_optimizer ?? {},
    });
    return epoch;
  }

  override dispose(): void {
    super.dispose();
    this.alphaOptimizer?.dispose();
  }
}
