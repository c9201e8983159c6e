// How a data-parallel worker thread builds its replica of a run's network: a @tsnas/ops Model built
// from the desc's JSON, in a container holding the desc's ops from the plug-ins that own them (e.g.
// @tsnas/algo-darts for mixed_op), the same factories the run's container holds in the main thread.
// The trainer's engine only imports this module's URL in each worker and calls its default export.
import 'reflect-metadata';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ModelDesc, modelDescFromJSON, modelDescToJSON } from '@tsnas/descs';
import { BUILTIN_OPS, findOp, Model, type OpFactory, registerOp } from '@tsnas/ops';
import type { ReplicaFactory } from '@tsnas/trainer/parallel';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { UsageError } from './errors.js';

export interface ModelReplicaArgs {
  /** modelDescToJSON of the trainer's model desc. */
  desc: string;
  affine: boolean;
  droppath: boolean;
  stemAffine?: boolean;
  /** Module URLs whose default export is a plug-in declaring `ops` (or with `register(container)`). */
  plugins: string[];
}

/**
 * Registers, in the worker's bare container, the ops `opNames` that the plug-in module at `url`
 * provides: from a declarative plug-in's `ops` table just those ops; a plug-in written as
 * `register(container)` alone (the older shape) registers itself whole.
 */
async function registerPluginOps(c: DependencyContainer, url: string, opNames: Set<string>): Promise<void> {
  const mod = await import(url);
  const plugin = mod.default ?? mod.plugin;
  const ops = plugin?.ops as Record<string, OpFactory> | undefined;
  if (ops && typeof ops === 'object') {
    for (const [name, factory] of Object.entries(ops)) {
      if (opNames.has(name)) registerOp(c, name, factory, url);
    }
    return;
  }
  if (typeof plugin?.register !== 'function') {
    throw new Error(`${url}: its default export is not a plug-in with ops (or register(container))`);
  }
  try {
    plugin.register(c);
  } catch (e) {
    throw new Error(`plug-in ${url}: register() failed in the worker thread: ${(e as Error).message}`);
  }
}

/** Builds the replica in a worker thread (the factory modelReplicaRecipe names). */
export default async function modelReplica(args: ModelReplicaArgs): Promise<Model> {
  const c = rootContainer.createChildContainer();
  const desc = modelDescFromJSON(args.desc, 'replica desc');
  const opNames = opNamesOf(desc);
  for (const url of args.plugins) await registerPluginOps(c, url, opNames);
  return new Model(desc, {
    container: c,
    affine: args.affine,
    droppath: args.droppath,
    ...(args.stemAffine !== undefined ? { stemAffine: args.stemAffine } : {}),
  });
}

/** Every op name a desc uses (stems, edges, post ops and their children), from its plain form. */
export function opNamesOf(desc: ModelDesc): Set<string> {
  const names = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.name === 'string' && typeof o.params === 'object' && typeof o.in_len === 'number') {
        names.add(o.name);
      }
      for (const x of Object.values(o)) visit(x);
    }
  };
  visit(JSON.parse(modelDescToJSON(desc)));
  return names;
}

interface PackageJson {
  name?: string;
  main?: string;
  exports?: unknown;
}

/** This module's URL: in the form (TypeScript source under tests, built JS) that is running. */
const self = import.meta.url;

/** The module a package's `import` resolves to (its TypeScript source when `source`). */
function entryOf(dir: string, pkg: PackageJson, source: boolean): string {
  const exp = pkg.exports as any;
  const root = typeof exp === 'string' ? exp : (exp?.['.'] ?? exp);
  const pick = (e: any): string | undefined =>
    typeof e === 'string'
      ? e
      : e
        ? ((source ? pick(e['@tsnas/source']) : undefined) ??
          pick(e.import) ??
          pick(e.default) ??
          pick(e.node))
        : undefined;
  return join(dir, pick(root) ?? pkg.main ?? 'index.js');
}

/** The folder of package `name` seen from `base` (node_modules upwards, or `base`'s own package). */
function findPackage(name: string, base: string): string | null {
  let dir = resolve(base);
  for (;;) {
    const own = join(dir, 'package.json');
    if (existsSync(own)) {
      try {
        if ((JSON.parse(readFileSync(own, 'utf8')) as PackageJson).name === name) return dir;
      } catch {
        // not a package we can read: keep looking
      }
    }
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Module URLs of the plug-ins that own the non-built-in ops of `desc` in `container` (the op's
 * registered owner is its package name), resolved from `resolveFrom` folders in order. An owner no
 * worker can import is a UsageError naming the op and the package.
 */
export function pluginModulesFor(
  desc: ModelDesc,
  container: DependencyContainer,
  resolveFrom: string[],
): string[] {
  const source = self.endsWith('.ts');
  const urls = new Set<string>();
  for (const op of opNamesOf(desc)) {
    if (Object.hasOwn(BUILTIN_OPS, op)) continue;
    const reg = findOp(container, op);
    if (!reg) continue; // the main thread's model could not have been built either
    const dir = resolveFrom.map((b) => findPackage(reg.owner, b)).find((d) => d !== null) ?? null;
    if (!dir) {
      throw new UsageError(
        `op '${op}' is registered by '${reg.owner}', which a worker thread cannot import: no package of that name is installed (looked from ${resolveFrom.join(', ')}). Train in one thread (common.workers=1) or register the op from an installed package`,
      );
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    urls.add(pathToFileURL(entryOf(dir, pkg, source)).href);
  }
  return [...urls];
}

/** Where a run looks for the plug-in packages its workers import: the working directory, then the script's. */
export function workerResolveFrom(): string[] {
  return [process.cwd(), ...(process.argv[1] ? [process.argv[1]] : [])];
}

export interface ModelRecipeOptions {
  desc: ModelDesc;
  affine: boolean;
  droppath: boolean;
  stemAffine?: boolean;
  /** Plug-in module URLs (see pluginModulesFor). */
  plugins?: string[];
}

/**
 * The ReplicaFactory for replicas of `new Model(desc, { affine, droppath, stemAffine })`, which
 * `createGradientEngine({ replica })` / `DataParallelEngine` of `@tsnas/trainer/parallel` take.
 */
export function modelReplicaRecipe(opts: ModelRecipeOptions): ReplicaFactory {
  const args: ModelReplicaArgs = {
    desc: modelDescToJSON(opts.desc),
    affine: opts.affine,
    droppath: opts.droppath,
    ...(opts.stemAffine !== undefined ? { stemAffine: opts.stemAffine } : {}),
    plugins: opts.plugins ?? [],
  };
  return { module: self, args };
}
