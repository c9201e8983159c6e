import { globalRng } from '@tsnas/backend';
import { OpDesc } from '@tsnas/descs';
import {
  type ArchParams,
  BatchNorm2d,
  type CreateOp,
  type FinalizedOp,
  ModuleList,
  Op,
  type WeightedOp,
  weightedSum,
} from '@tsnas/ops';
import * as tf from '@tensorflow/tfjs-core';

/** DARTS' candidate operations; `none` must stay last (Archai §6.1). */
export const PRIMITIVES = [
  'max_pool_3x3',
  'avg_pool_3x3',
  'skip_connect',
  'sep_conv_3x3',
  'sep_conv_5x5',
  'dil_conv_3x3',
  'dil_conv_5x5',
  'none',
] as const;

/**
 * A pooling primitive followed by a BatchNorm without affine parameters: the DARTS paper's search
 * network (`nn.Sequential(pool, nn.BatchNorm2d(C, affine=False))`), so that the parameter-free
 * pools enter the weighted sum at the scale of the convolutions, which end in a BatchNorm. Archai
 * leaves it out (the default). Search-time only: the finalized op is the pool alone.
 */
export class PoolThenBatchNorm extends Op {
  private readonly pool: Op;
  private readonly bn: BatchNorm2d;

  constructor(pool: Op, channels: number) {
    super(pool.desc);
    this.pool = this.addChild('op', pool);
    this.bn = this.addChild('bn', new BatchNorm2d(channels, false));
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    return this.bn.forward(this.pool.forward(x, training), training);
  }

  override finalize(): FinalizedOp {
    return this.pool.finalize();
  }
}

/** Whether an op desc asks for the paper's BatchNorm after pools (`model_desc.params.pool_bn`). */
export function poolBatchNorm(desc: OpDesc): boolean {
  return desc.params.pool_bn === true;
}

/**
 * The continuous relaxation of one edge: sum_k softmax(alpha)_k * op_k(x) over the primitives.
 * Alphas start at 1e-3 * randn and are shared by every cell of one type (the first cell of the
 * type owns them; the others receive them through `archParams`).
 */
export class MixedOp extends Op {
  readonly primitives: string[];
  private readonly children: ModuleList<Op>;
  private readonly alphas: tf.Variable;

  constructor(
    desc: OpDesc,
    affine: boolean,
    archParams: ArchParams | null,
    create: CreateOp,
    primitives: readonly string[] = PRIMITIVES,
  ) {
    super(desc);
    this.primitives = [...primitives];
    this.children = this.addChild('ops', new ModuleList<Op>());
    for (const name of this.primitives) {
      const childDesc = new OpDesc(
        name,
        { conv: desc.params.conv?.clone(), stride: desc.params.stride ?? 1 },
        1,
      );
      const op = create(childDesc, affine, null);
      const channels = desc.params.conv?.chOut;
      this.children.push(
        poolBatchNorm(desc) && name.includes('pool') && channels ? new PoolThenBatchNorm(op, channels) : op,
      );
    }
    const params =
      archParams ??
      this.createArchParams({
        alphas: tf.tensor1d(this.primitives.map(() => 1e-3 * globalRng().normal())),
      });
    if (archParams) this.useArchParams(archParams);
    this.alphas = params.get('alphas');
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = Array.isArray(x) ? x[0] : x;
    const weights = tf.unstack(tf.softmax(this.alphas)) as tf.Scalar[];
    const terms: tf.Tensor4D[] = [];
    const used: tf.Scalar[] = [];
    this.children.items.forEach((op, k) => {
      // `none` outputs zeros: its term adds nothing to the sum or to any gradient, so skip the work.
      if (this.primitives[k] === 'none') return;
      terms.push(op.forward(input, training));
      used.push(weights[k]);
    });
    // One tape node (one SIMD kernel on wasm) instead of a product per primitive and an addN, whose
    // gradients would cost ~6 kernels per primitive and copies of every term.
    return weightedSum(terms, used);
  }

  /** Softmax weights of the primitives (in PRIMITIVES order). */
  weights(): number[] {
    return tf.tidy(() => Array.from(tf.softmax(this.alphas).dataSync()));
  }

  /**
   * The strongest primitive other than `none`, ranked by its softmax weight (original DARTS; Archai
   * ranks by the raw alpha, quirk §11.3, which can order edges differently).
   */
  override finalize(): FinalizedOp {
    const w = this.weights();
    let best = -1;
    for (let k = 0; k < w.length; k++) {
      if (this.primitives[k] === 'none') continue;
      if (best < 0 || w[k] > w[best]) best = k;
    }
    const desc = this.children.items[best].finalize().desc;
    return { desc, rank: w[best] };
  }

  /** Primitives with their alphas, strongest first (Archai's `ops()`). */
  override ops(): WeightedOp[] {
    const a = Array.from(this.alphas.dataSync());
    return this.children.items.map((op, k) => ({ op, weight: a[k] })).sort((p, q) => q.weight - p.weight);
  }

  override canDropPath(): boolean {
    return false;
  }
}
