// The one registry shape of the runner (finalizers, algorithms), as the op registry of @tsnas/ops
// and the dataset registry behave: a keyed map, a name registered twice is an error naming both
// owners, an unknown name is an error listing the known ones. An instance lives in one run's
// container, so nothing registered leaks to another run.
import { UsageError } from './errors.js';

export interface KeyedEntry<T> {
  name: string;
  value: T;
  /** The package that registered it (read from its package.json by the runner). */
  owner: string;
}

export class KeyedRegistry<T> {
  private readonly entries = new Map<string, KeyedEntry<T>>();

  /** `kind` names the things held, for messages: "finalizer", "algorithm". */
  constructor(readonly kind: string) {}

  register(name: string, value: T, owner: string): void {
    const prev = this.entries.get(name);
    if (prev) {
      throw new UsageError(`${this.kind} '${name}' is registered twice: by ${prev.owner} and by ${owner}`);
    }
    this.entries.set(name, { name, value, owner });
  }

  /** The entry for `name`; unknown names throw, listing the known ones (`keyPath`: where the name came from). */
  entry(name: string, keyPath?: string): KeyedEntry<T> {
    const e = this.entries.get(name);
    if (!e) {
      const where = keyPath ? `${keyPath}: ` : '';
      throw new UsageError(
        `${where}unknown ${this.kind} '${name}'. Known: ${this.names().join(', ') || '(none)'}`,
      );
    }
    return e;
  }

  get(name: string, keyPath?: string): T {
    return this.entry(name, keyPath).value;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  ownerOf(name: string): string | undefined {
    return this.entries.get(name)?.owner;
  }

  /** Names in registration order. */
  names(): string[] {
    return [...this.entries.keys()];
  }
}
