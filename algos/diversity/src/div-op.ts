import { PRIMITIVES } from '@tsnas/algo-darts';
import { globalRng } from '@tsnas/backend';
import { OpDesc } from '@tsnas/descs';
import {
  type ArchParams,
  type CreateOp,
  type FinalizedOp,
  ModuleList,
  Op,
  sumOf,
  type WeightedOp,
  weightedSum,
} from '@tsnas/ops';
import { UsageError } from '@tsnas/runner';
import * as tf from '@tensorflow/tfjs-core';

/** One op's output during a forward pass with activation collection on. */
export interface OpActivation {
  primitive: string;
  output: tf.Tensor4D;
}

/**
 * Receives, during a forward pass, the outputs of the edge's ops other than `none`, in primitive
 * order. The tensors belong to the forward pass: a collector reads what it needs and keeps no
 * reference after the pass.
 */
export type ActivationCollector = (activations: readonly OpActivation[]) => void;

/**
 * DivNAS's edge op (Archai's DivOp): the DARTS primitives, summed with softmax(alpha) weights like
 * MixedOp, or plainly summed when built with `noalpha` (then it has no arch params). With a
 * collector attached, the same forward pass also hands the outputs of every op but `none` to it.
 */
export class DivOp extends Op {
  readonly primitives: string[];
  /** No alphas: the forward is a plain sum, and the op cannot be ranked. */
  readonly noalpha: boolean;
  collector: ActivationCollector | null = null;
  private readonly children: ModuleList<Op>;
  private readonly alphas: tf.Variable | null;

  constructor(
    desc: OpDesc,
    affine: boolean,
    archParams: ArchParams | null,
    create: CreateOp,
    primitives: readonly string[] = PRIMITIVES,
  ) {
    super(desc);
    this.primitives = [...primitives];
    this.noalpha = desc.params.noalpha === true;
    this.children = this.addChild('ops', new ModuleList<Op>());
    for (const name of this.primitives) {
      const childDesc = new OpDesc(
        name,
        { conv: desc.params.conv?.clone(), stride: desc.params.stride ?? 1 },
        1,
      );
      this.children.push(create(childDesc, affine, null));
    }
    if (this.noalpha) {
      this.alphas = null;
    } else {
      const params =
        archParams ??
        this.createArchParams({
          alphas: tf.tensor1d(this.primitives.map(() => 1e-3 * globalRng().normal())),
        });
      if (archParams) this.useArchParams(archParams);
      this.alphas = params.get('alphas');
    }
  }

  /** The primitive `name`'s op (its weights are the supernet's). */
  op(name: string): Op {
    const k = this.primitives.indexOf(name);
    if (k < 0) throw new Error(`div_op has no primitive '${name}'; it has ${this.primitives.join(', ')}`);
    return this.children.items[k];
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = Array.isArray(x) ? x[0] : x;
    const outputs: OpActivation[] = [];
    const index: number[] = [];
    this.children.items.forEach((op, k) => {
      // `none` outputs zeros: it adds nothing to the sum, and DivNAS never selects it.
      if (this.primitives[k] === 'none') return;
      outputs.push({ primitive: this.primitives[k], output: op.forward(input, training) });
      index.push(k);
    });
    this.collector?.(outputs);
    if (!this.alphas) return sumOf(outputs.map((o) => o.output));
    const weights = tf.unstack(tf.softmax(this.alphas)) as tf.Scalar[];
    return weightedSum(
      outputs.map((o) => o.output),
      index.map((k) => weights[k]),
    );
  }

  /** The raw alphas in primitive order (null with `noalpha`). */
  alphaValues(): number[] | null {
    return this.alphas ? Array.from(this.alphas.dataSync()) : null;
  }

  /** Softmax weights of the primitives, in primitive order (null with `noalpha`). */
  weights(): number[] | null {
    const a = this.alphas;
    return a ? tf.tidy(() => Array.from(tf.softmax(a).dataSync())) : null;
  }

  /** DARTS' top-1, as MixedOp: the strongest primitive other than `none`, ranked by softmax weight. */
  override finalize(): FinalizedOp {
    const w = this.weights();
    if (!w) {
      throw new UsageError(
        "div_op: nas.search.divnas.archtrainer is 'noalpha', so there are no alphas to pick an op by; " +
          'use nas.search.finalizer: mi (or random)',
      );
    }
    let best = -1;
    for (let k = 0; k < w.length; k++) {
      if (this.primitives[k] === 'none') continue;
      if (best < 0 || w[k] > w[best]) best = k;
    }
    return { desc: this.children.items[best].finalize().desc, rank: w[best] };
  }

  /** Primitives with their raw alphas, strongest first; NaN weights in primitive order with `noalpha`. */
  override ops(): WeightedOp[] {
    const a = this.alphaValues();
    const list = this.children.items.map((op, k) => ({ op, weight: a ? a[k] : Number.NaN }));
    return a ? list.sort((p, q) => q.weight - p.weight) : list;
  }

  override canDropPath(): boolean {
    return false;
  }
}
