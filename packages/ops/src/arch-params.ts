import type * as tf from '@tensorflow/tfjs-core';
import { OpsError } from './errors.js';

/**
 * An immutable named collection of architecture variables (e.g. `alphas`). The op that creates it
 * owns it; cells sharing `trainablesFrom` receive the same object, so each variable is trained once.
 */
export class ArchParams implements Iterable<[string, tf.Variable]> {
  private readonly params: ReadonlyMap<string, tf.Variable>;

  constructor(entries: Iterable<[string, tf.Variable]> | Record<string, tf.Variable>) {
    const list =
      Symbol.iterator in entries
        ? [...(entries as Iterable<[string, tf.Variable]>)]
        : Object.entries(entries);
    this.params = new Map(list);
  }

  get(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v)
      throw new OpsError(`arch param '${name}' not found; have: ${this.names().join(', ') || '(none)'}`);
    return v;
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  names(): string[] {
    return [...this.params.keys()];
  }

  get size(): number {
    return this.params.size;
  }

  /** Params whose kind (the name after the last '.') is `kind`, as Archai's `param_by_kind`. */
  byKind(kind: string): tf.Variable[] {
    return [...this.params].filter(([n]) => n.slice(n.lastIndexOf('.') + 1) === kind).map(([, v]) => v);
  }

  [Symbol.iterator](): Iterator<[string, tf.Variable]> {
    return this.params[Symbol.iterator]();
  }
}
