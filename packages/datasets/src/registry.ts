import { DatasetError } from './errors.js';
import type { DatasetProvider } from './provider.js';
import {
  cifar10Provider,
  cifar100Provider,
  fashionMnistProvider,
  mnistProvider,
  syntheticProvider,
} from './providers/builtin.js';

/** Owner recorded for the providers this package registers. */
export const BUILTIN_OWNER = '@tsnas/datasets';

/** DI token under which a run's DatasetRegistry is registered. */
export const DATASET_REGISTRY: unique symbol = Symbol.for('@tsnas/datasets:DatasetRegistry');

/**
 * Dataset providers by name. A name may be registered once; a second registration throws, naming
 * the dataset and both owners, so two plug-ins cannot silently shadow each other.
 */
export class DatasetRegistry {
  private readonly entries = new Map<string, { provider: DatasetProvider; owner: string }>();

  register(name: string, provider: DatasetProvider, owner: string): this {
    const existing = this.entries.get(name);
    if (existing) {
      throw new DatasetError(
        'E_DUPLICATE',
        `Dataset provider '${name}' is already registered by '${existing.owner}'; '${owner}' tried to register it again.`,
      );
    }
    this.entries.set(name, { provider, owner });
    return this;
  }

  get(name: string): DatasetProvider {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new DatasetError(
        'E_UNKNOWN',
        `Unknown dataset '${name}'. Registered datasets: ${this.names().join(', ') || '(none)'}.`,
      );
    }
    return entry.provider;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Who registered `name`, or undefined. */
  ownerOf(name: string): string | undefined {
    return this.entries.get(name)?.owner;
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }
}

/** A fresh registry holding the built-in providers (one per run: nothing is shared between runs). */
export function createDatasetRegistry(): DatasetRegistry {
  return new DatasetRegistry()
    .register('cifar10', cifar10Provider(), BUILTIN_OWNER)
    .register('cifar100', cifar100Provider(), BUILTIN_OWNER)
    .register('fashion_mnist', fashionMnistProvider(), BUILTIN_OWNER)
    .register('mnist', mnistProvider(), BUILTIN_OWNER)
    .register('synthetic', syntheticProvider(), BUILTIN_OWNER);
}
