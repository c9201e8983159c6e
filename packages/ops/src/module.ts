import * as tf from '@tensorflow/tfjs-core';
import { OpsError } from './errors.js';

/**
 * A tree of named children holding weights (trainable), buffers (BN running statistics) and owned
 * architecture parameters, so every variable gets a hierarchical name such as
 * `cells.3.nodes.0.edges.1.op.conv1.depthwise.weight`, like PyTorch's `state_dict` keys.
 */
export abstract class Module {
  private readonly _children = new Map<string, Module>();
  private readonly _weights = new Map<string, tf.Variable>();
  private readonly _buffers = new Map<string, tf.Variable>();
  private readonly _archOwned = new Map<string, tf.Variable>();

  protected addChild<T extends Module>(name: string, child: T): T {
    this.checkFree(name);
    this._children.set(name, child);
    return child;
  }

  /** Takes ownership of `value` (the caller must not dispose it) as a trainable variable. */
  protected addWeight(name: string, value: tf.Tensor): tf.Variable {
    this.checkFree(name);
    const v = tf.variable(value, true);
    value.dispose();
    this._weights.set(name, v);
    return v;
  }

  /** A non-trainable variable updated by `forward` itself (BN running mean/var). */
  protected addBuffer(name: string, value: tf.Tensor): tf.Variable {
    this.checkFree(name);
    const v = tf.variable(value, false);
    value.dispose();
    this._buffers.set(name, v);
    return v;
  }

  /** Registers an architecture parameter this module owns (others may share it, not own it). */
  protected addArchParam(name: string, v: tf.Variable): void {
    this.checkFree(name);
    this._archOwned.set(name, v);
  }

  private checkFree(name: string): void {
    if (
      name === '' ||
      name.includes('.') ||
      this._children.has(name) ||
      this._weights.has(name) ||
      this._buffers.has(name) ||
      this._archOwned.has(name)
    ) {
      throw new OpsError(`${this.constructor.name}: member name '${name}' is empty, dotted or already used`);
    }
  }

  namedChildren(): [string, Module][] {
    return [...this._children];
  }

  /** Trainable weights of this module and its descendants (arch params excluded). */
  namedWeights(prefix = ''): Map<string, tf.Variable> {
    return this.collect(prefix, (m) => m._weights);
  }

  /** Non-trainable buffers (BN running statistics) of this module and its descendants. */
  namedBuffers(prefix = ''): Map<string, tf.Variable> {
    return this.collect(prefix, (m) => m._buffers);
  }

  /** Architecture parameters owned here or below; shared ones appear only under their owner. */
  namedArchParams(prefix = ''): Map<string, tf.Variable> {
    return this.collect(prefix, (m) => m._archOwned);
  }

  /** Named child weights (trainable) and buffers (non-trainable). */
  variables(prefix = ''): { weights: Map<string, tf.Variable>; buffers: Map<string, tf.Variable> } {
    return { weights: this.namedWeights(prefix), buffers: this.namedBuffers(prefix) };
  }

  private collect(
    prefix: string,
    pick: (m: Module) => Map<string, tf.Variable>,
    out = new Map<string, tf.Variable>(),
  ): Map<string, tf.Variable> {
    for (const [name, v] of pick(this)) out.set(prefix + name, v);
    for (const [name, child] of this._children) child.collect(`${prefix}${name}.`, pick, out);
    return out;
  }

  /** Frees every variable this module or its descendants own. */
  dispose(): void {
    for (const v of this._weights.values()) v.dispose();
    for (const v of this._buffers.values()) v.dispose();
    for (const v of this._archOwned.values()) v.dispose();
    for (const c of this._children.values()) c.dispose();
  }
}

/** A plain list of children named 0, 1, ... (PyTorch's ModuleList). */
export class ModuleList<T extends Module> extends Module {
  readonly items: T[] = [];
  push(item: T, name = String(this.items.length)): T {
    this.addChild(name, item);
    this.items.push(item);
    return item;
  }
}
