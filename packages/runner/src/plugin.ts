// An algorithm plug-in is a plain typed object (like ESLint or Rollup plug-ins): a name, its
// default profile, and a `register` function that puts its classes into the run's DI container.
import type { DependencyContainer } from 'tsyringe';

export interface AlgoPlugin {
  /** What users type after `nas`. */
  name: string;
  /** The plug-in's default profile (YAML), a file URL or path. */
  config: URL | string;
  /** A profile for `--full` (paper scale), when the plug-in has one. */
  fullConfig?: URL | string;
  /** A profile for `--toy` (smoke test, about a minute). */
  toyConfig?: URL | string;
  description?: string;
  /** Registers the plug-in's builder, arch trainer, finalizers and ops in a run's container. */
  register(container: DependencyContainer): void;
}

/** Identity helper that gives plug-in authors type checking. */
export function defineAlgo(plugin: AlgoPlugin): AlgoPlugin {
  return plugin;
}

/** Where a plug-in came from, for `nas algos` and for error messages. */
export interface AlgoSource {
  plugin: AlgoPlugin;
  packageName: string;
  version: string;
  origin: 'built-in' | 'installed' | 'config';
}
