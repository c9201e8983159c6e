// An algorithm plug-in is a plain typed object (like ESLint or Rollup plug-ins) that declares what
// it adds: its default profile, its model-desc builder, arch trainer, ops, finalizers and datasets. The
// runner registers the declared parts in each run's container itself and records the package the
// plug-in was loaded from as their owner; `register` remains for anything else.
import type { LoadedConfig, TsnasProfile } from '@tsnas/config';
import { validateConfig } from '@tsnas/config';
import {
  createDatasetRegistry,
  DATASET_REGISTRY,
  type DatasetProvider,
  type DatasetRegistry,
} from '@tsnas/datasets';
import type { ModelDescBuilder } from '@tsnas/descs';
import { findOp, type OpFactory, registerOp } from '@tsnas/ops';
import type { DependencyContainer } from 'tsyringe';
import { UsageError } from './errors.js';
import type { FinalizerMaker, FinalizerRegistry } from './finalizers.js';
import type { Searcher } from './phases.js';
import {
  ARCH_TRAINER,
  type ArchTrainerClass,
  FINALIZERS,
  MODEL_DESC_BUILDER,
  SEARCHER,
  TRAINER,
  type TrainerClass,
} from './tokens.js';

/** A zod schema (the type @tsnas/config validates profiles with). */
export type SectionSchema = Parameters<typeof validateConfig>[1];

/** A class to instantiate once per run, or an instance to share between runs. */
export type ClassOrInstance<T> = (new () => T) | T;

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
  /**
   * Builds the search network's desc (and the eval network's from the searched cell). A class is
   * instantiated once per run (builders keep per-build state); an instance is shared.
   */
  builder?: ClassOrInstance<ModelDescBuilder>;
  /** The trainer class that trains weights and architecture; null: the built desc is final. */
  archTrainer?: ArchTrainerClass;
  /** Replaces the runner's Searcher (a class is instantiated once per run). */
  searcher?: ClassOrInstance<Searcher>;
  /** Replaces the trainer class of post-train, trials and eval. */
  trainer?: TrainerClass;
  /**
   * Ops by name. Worker threads of data-parallel training import the plug-in's module and
   * register the ones a desc uses from here, so an op must be declared here to train in them.
   */
  ops?: Readonly<Record<string, OpFactory>>;
  /** Finalizers by name (a Finalizer class, or a function making one); `nas.search.finalizer` picks one. */
  finalizers?: Readonly<Record<string, FinalizerMaker>>;
  /**
   * Dataset providers by name, beside the built-ins: `dataset.name` (or `--dataset`) picks one.
   * The profile still gives the network's `dataset.n_classes` and `dataset.channels`.
   */
  datasets?: Readonly<Record<string, DatasetProvider>>;
  /**
   * A zod schema of the plug-in's own profile section, `nas.search.<name>`: validated with the
   * rest of the profile (errors name file, line and key), its output replaces the section.
   */
  schema?: SectionSchema;
  /**
   * Anything else, registered in the run's container after the declared parts, with the resolved
   * profile in hand (choose classes from it up front). Plug-ins written before the declarative
   * fields did everything here with `register(container)`; that still works, as a compatibility
   * path, but their ops are then registered in worker threads by calling it on a bare container.
   */
  register?(container: DependencyContainer, conf: TsnasProfile): void;
}

/** Identity helper that gives plug-in authors type checking. */
export function defineAlgo(plugin: AlgoPlugin): AlgoPlugin {
  return plugin;
}

/** Where a plug-in came from, for `nas algos` and for error messages. */
export interface AlgoSource {
  plugin: AlgoPlugin;
  /** The `name` of the package.json the plug-in was loaded from: the owner of what it registers. */
  packageName: string;
  version: string;
  origin: 'built-in' | 'installed' | 'config';
}

function instanceOf<T>(x: ClassOrInstance<T>): T {
  return typeof x === 'function' ? new (x as new () => T)() : x;
}

/**
 * The run container's own dataset registry (createRunContainer makes one per run); a container
 * without one gets a fresh one of the built-ins, so a plug-in's datasets never land in a parent's
 * registry that later runs would share.
 */
function datasetRegistryOf(c: DependencyContainer): DatasetRegistry {
  if (c.isRegistered(DATASET_REGISTRY)) return c.resolve<DatasetRegistry>(DATASET_REGISTRY);
  const registry = createDatasetRegistry();
  c.register(DATASET_REGISTRY, { useValue: registry });
  return registry;
}

/**
 * Registers what `source.plugin` declares in a run's container `c` (which already holds the
 * runner's defaults), owned by the plug-in's package, then calls its `register` with `conf`.
 */
export function installPlugin(c: DependencyContainer, source: AlgoSource, conf?: TsnasProfile): void {
  const { plugin, packageName: owner } = source;
  if (plugin.builder !== undefined) c.register(MODEL_DESC_BUILDER, { useValue: instanceOf(plugin.builder) });
  if (plugin.archTrainer !== undefined) {
    const archTrainer = plugin.archTrainer;
    // A factory: tsyringe reads `{ useValue: null }` as a class provider and fails to resolve it.
    c.register(ARCH_TRAINER, { useFactory: () => archTrainer });
  }
  if (plugin.searcher !== undefined) c.register(SEARCHER, { useValue: instanceOf(plugin.searcher) });
  if (plugin.trainer !== undefined) c.register(TRAINER, { useValue: plugin.trainer });
  for (const [name, factory] of Object.entries(plugin.ops ?? {})) {
    // Stricter than registerOp, which lets a child container override: a plug-in's op may not
    // shadow a built-in or an op some other package put in a parent container.
    const existing = findOp(c, name);
    if (existing) {
      throw new UsageError(
        `op '${name}' is registered twice: by ${existing.owner} and by ${owner} (plug-in '${plugin.name}'); rename one of them`,
      );
    }
    registerOp(c, name, factory, owner);
  }
  if (plugin.finalizers) {
    const finalizers = c.resolve<FinalizerRegistry>(FINALIZERS);
    for (const [name, make] of Object.entries(plugin.finalizers)) finalizers.register(name, make, owner);
  }
  if (plugin.datasets) {
    const datasets = datasetRegistryOf(c);
    for (const [name, provider] of Object.entries(plugin.datasets)) {
      if (
        typeof provider?.load !== 'function' ||
        typeof provider.meta !== 'object' ||
        provider.meta === null
      ) {
        throw new UsageError(
          `${owner} (plug-in '${plugin.name}'): datasets.${name} is not a dataset provider: expected { meta, load(options) }`,
        );
      }
      const existing = datasets.ownerOf(name);
      if (existing !== undefined) {
        throw new UsageError(
          `dataset '${name}' is registered twice: by ${existing} and by ${owner} (plug-in '${plugin.name}'); rename one of them`,
        );
      }
      datasets.register(name, provider, owner);
    }
  }
  if (plugin.register) {
    // A register written for the profile (two parameters) cannot run without one.
    if (!conf && plugin.register.length >= 2) {
      throw new Error(
        `${owner}: the plug-in's register(container, conf) needs the resolved profile: pass it to createRunContainer`,
      );
    }
    plugin.register(c, conf as TsnasProfile);
  }
}

/**
 * Checks the plug-in's own section (`nas.search.<name>`) of a loaded profile against its
 * `schema`, reporting bad values as every profile error is (file:line: key path: what was
 * expected), and puts the parsed section (defaults filled in) back into the tree.
 */
export function validateAlgoSection(
  plugin: AlgoPlugin,
  loaded: Pick<LoadedConfig, 'tree' | 'sources'>,
): void {
  const schema = plugin.schema;
  if (!schema) return;
  const at = ['nas', 'search', plugin.name];
  const sectionOf = (tree: any) => tree?.nas?.search?.[plugin.name];
  // The section's issues re-rooted at its key path, so validateConfig finds their lines.
  const rooted = {
    safeParse(tree: unknown) {
      const r = schema.safeParse(sectionOf(tree));
      if (r.success) return r;
      const issues = r.error.issues.map((issue) => ({ ...issue, path: [...at, ...issue.path] }));
      return { success: false, error: { issues } };
    },
  } as unknown as SectionSchema;
  const parsed = validateConfig(loaded.tree, rooted, loaded.sources);
  const search = (loaded.tree as any)?.nas?.search;
  if (search && parsed !== undefined) search[plugin.name] = parsed;
}
