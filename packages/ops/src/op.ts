import * as tf from '@tensorflow/tfjs-core';
import type { OpDesc, Trainables } from '@tsnas/descs';
import { ArchParams } from './arch-params.js';
import { OpsError, StateError } from './errors.js';
import { Module } from './module.js';

/** A weighted constituent of an op (`MixedOp` returns one per primitive; a primitive returns itself). */
export interface WeightedOp {
  op: Op;
  weight: number;
}

export interface FinalizedOp {
  desc: OpDesc;
  /** null: required, not ranked (Archai's `None`). */
  rank: number | null;
}

/**
 * The base of every op, built-in or plug-in (Archai's `Op`). Inputs and outputs are NHWC.
 * `forward` receives one tensor, or a list when the edge has several inputs (merge ops get the
 * cell's states).
 */
export abstract class Op extends Module {
  desc: OpDesc;
  private _archParams: ArchParams | null = null;

  constructor(desc: OpDesc) {
    super();
    this.desc = desc;
  }

  abstract forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D;

  /** The op to keep in the final architecture and its rank. Default: itself, with its weights. */
  finalize(): FinalizedOp {
    const desc = this.desc.clone(false);
    desc.trainables = this.getTrainables();
    return { desc, rank: null };
  }

  ops(): WeightedOp[] {
    return [{ op: this, weight: Number.NaN }];
  }

  /** Whether a DagEdge may wrap this op with DropPath (Archai's `can_drop_path`). */
  canDropPath(): boolean {
    return true;
  }

  /** The arch params this op uses, owned or shared; null for ops without any. */
  archParams(): ArchParams | null {
    return this._archParams;
  }

  /** Creates arch params owned by this op (named `<op path>.<name>` in the model). */
  protected createArchParams(initial: Record<string, tf.Tensor>): ArchParams {
    const entries: [string, tf.Variable][] = [];
    for (const [name, t] of Object.entries(initial)) {
      const v = tf.variable(t, true);
      t.dispose();
      this.addArchParam(name, v);
      entries.push([name, v]);
    }
    this._archParams = new ArchParams(entries);
    return this._archParams;
  }

  /** Uses arch params owned by another op (a template cell's edge); they are not registered here. */
  protected useArchParams(shared: ArchParams): ArchParams {
    this._archParams = shared;
    return shared;
  }

  /** Weights and buffers as plain data, so a desc can carry them (Archai's `get_trainables`). */
  getTrainables(): Trainables {
    const weights: Trainables['weights'] = {};
    const { weights: w, buffers: b } = this.variables();
    for (const [name, v] of [...w, ...b])
      weights[name] = { shape: [...v.shape], data: Array.from(v.dataSync()) };
    return { name: this.desc.name, weights };
  }

  /** Loads trainables by name; names this op lacks are skipped (Archai loads with strict=False). */
  setTrainables(trainables: Trainables | null): void {
    if (!trainables) return;
    if (trainables.name !== this.desc.name) {
      throw new OpsError(`op '${this.desc.name}': trainables belong to op '${trainables.name}'`);
    }
    const { weights, buffers } = this.variables();
    for (const [name, value] of Object.entries(trainables.weights)) {
      const v = weights.get(name) ?? buffers.get(name);
      if (!v) continue;
      if (value.shape.length !== v.shape.length || value.shape.some((d, i) => d !== v.shape[i])) {
        throw new StateError(
          `op '${this.desc.name}': trainable '${name}' has shape [${value.shape}], the op expects [${v.shape}]`,
        );
      }
      const t = tf.tensor(value.data, value.shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  }
}
