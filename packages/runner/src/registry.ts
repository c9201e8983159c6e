// The algorithm registry: built-ins first, then packages named `@tsnas/algo-<name>` or
// `tsnas-algo-<name>` installed where the user runs `nas`, then `plugins:` from the user's config.
// One name claimed twice is an error naming both packages.
import { closest, distance } from 'fastest-levenshtein';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from './errors.js';
import type { AlgoPlugin, AlgoSource } from './plugin.js';

const PLUGIN_PREFIXES = ['@tsnas/algo-', 'tsnas-algo-'];

interface PackageJson {
  name: string;
  version: string;
  main?: string;
  exports?: unknown;
}

function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

/** node_modules folders from `cwd` up to the filesystem root, nearest first. */
function nodeModulesDirs(cwd: string): string[] {
  const out: string[] = [];
  let dir = resolve(cwd);
  for (;;) {
    const nm = join(dir, 'node_modules');
    if (existsSync(nm)) out.push(nm);
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

/** Finds an installed package folder by name, searching like Node does from `cwd`. */
export function findPackageDir(name: string, cwd: string): string | null {
  for (const nm of nodeModulesDirs(cwd)) {
    const dir = join(nm, ...name.split('/'));
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return null;
}

function entryOf(dir: string, pkg: PackageJson): string {
  const exp = pkg.exports as any;
  const root = typeof exp === 'string' ? exp : (exp?.['.'] ?? exp);
  const pick = (e: any): string | undefined =>
    typeof e === 'string' ? e : e ? (pick(e.import) ?? pick(e.default) ?? pick(e.node)) : undefined;
  const rel = pick(root) ?? pkg.main ?? 'index.js';
  return join(dir, rel);
}

/** Imports a plug-in package from its folder and checks it exports a plug-in object. */
export async function loadPluginPackage(dir: string, origin: AlgoSource['origin']): Promise<AlgoSource> {
  const pkg = readPackageJson(dir);
  const mod = await import(pathToFileURL(entryOf(dir, pkg)).href);
  const plugin: AlgoPlugin | undefined = mod.default ?? mod.plugin;
  if (!isAlgoPlugin(plugin)) {
    throw new UsageError(
      `${pkg.name} (${dir}) does not export an algorithm plug-in: its default export must be defineAlgo({ name, config, ... })`,
    );
  }
  return { plugin, packageName: pkg.name, version: pkg.version, origin };
}

/** The shape check of a loaded module's default export (the declared parts are checked as used). */
function isAlgoPlugin(p: unknown): p is AlgoPlugin {
  const o = p as Partial<AlgoPlugin> | null | undefined;
  return (
    !!o &&
    typeof o.name === 'string' &&
    (typeof o.config === 'string' || o.config instanceof URL) &&
    (o.register === undefined || typeof o.register === 'function') &&
    (o.ops === undefined || (typeof o.ops === 'object' && o.ops !== null)) &&
    (o.finalizers === undefined || (typeof o.finalizers === 'object' && o.finalizers !== null)) &&
    (o.datasets === undefined || (typeof o.datasets === 'object' && o.datasets !== null))
  );
}

/** Installed plug-in packages visible from `cwd` (by naming convention). */
export function scanInstalledPlugins(cwd: string): string[] {
  const found = new Map<string, string>();
  for (const nm of nodeModulesDirs(cwd)) {
    const candidates: string[] = [];
    if (existsSync(join(nm, '@tsnas'))) {
      for (const d of readdirSync(join(nm, '@tsnas')))
        if (d.startsWith('algo-')) candidates.push(`@tsnas/${d}`);
    }
    for (const d of readdirSync(nm)) if (d.startsWith('tsnas-algo-')) candidates.push(d);
    for (const name of candidates) {
      if (!found.has(name) && existsSync(join(nm, ...name.split('/'), 'package.json'))) {
        found.set(name, join(nm, ...name.split('/')));
      }
    }
  }
  return [...found.values()];
}

export class AlgoRegistry {
  private readonly byName = new Map<string, AlgoSource>();

  add(source: AlgoSource): void {
    const name = source.plugin.name;
    const prev = this.byName.get(name);
    if (prev) {
      if (prev.packageName === source.packageName) return; // the same package seen twice (hoisting)
      throw new UsageError(
        `algorithm '${name}' is claimed by two plug-ins: ${prev.packageName}@${prev.version} (${prev.origin}) and ${source.packageName}@${source.version} (${source.origin}); uninstall one of them`,
      );
    }
    this.byName.set(name, source);
  }

  get(name: string): AlgoSource {
    const s = this.byName.get(name);
    if (!s) {
      const names = [...this.byName.keys()].sort();
      const known = names.join(', ') || '(none)';
      // A typo's nearest name, when it is near enough to be the one meant.
      const near = names.length > 0 ? closest(name, names) : undefined;
      const hint =
        near && distance(name, near) <= Math.max(2, Math.floor(name.length / 3))
          ? ` (did you mean '${near}'?)`
          : '';
      throw new UsageError(
        `unknown algorithm '${name}'${hint}. Known: ${known}. Plug-ins are found as packages named @tsnas/algo-${name} or tsnas-algo-${name} installed in this project, or listed under 'plugins:' in nas.config.yaml`,
      );
    }
    return s;
  }

  list(): AlgoSource[] {
    return [...this.byName.values()].sort((a, b) => a.plugin.name.localeCompare(b.plugin.name));
  }

  /**
   * Builds the registry: built-ins, then installed plug-ins visible from `cwd`, then `plugins`
   * (package names or paths from the user's config, resolved from `cwd`).
   */
  static async discover(opts: {
    builtins: AlgoSource[];
    cwd: string;
    plugins?: string[];
  }): Promise<AlgoRegistry> {
    const reg = new AlgoRegistry();
    for (const b of opts.builtins) reg.add(b);
    const builtinPackages = new Set(opts.builtins.map((b) => b.packageName));
    for (const dir of scanInstalledPlugins(opts.cwd)) {
      const pkg = readPackageJson(dir);
      if (builtinPackages.has(pkg.name)) continue;
      reg.add(await loadPluginPackage(dir, 'installed'));
    }
    for (const spec of opts.plugins ?? []) {
      const dir =
        spec.startsWith('.') || spec.startsWith('/')
          ? resolve(opts.cwd, spec)
          : findPackageDir(spec, opts.cwd);
      if (!dir || !existsSync(join(dir, 'package.json'))) {
        throw new UsageError(
          `plugins: '${spec}' is not installed (looked in node_modules from ${opts.cwd} upwards)`,
        );
      }
      const pkg = readPackageJson(dir);
      if (reg.list().some((s) => s.packageName === pkg.name)) continue;
      reg.add(await loadPluginPackage(dir, 'config'));
    }
    return reg;
  }
}

/** A built-in plug-in's source record, reading name and version from its package.json. */
export function builtinSource(plugin: AlgoPlugin, packageJsonUrl: URL): AlgoSource {
  const pkg = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as PackageJson;
  return { plugin, packageName: pkg.name, version: pkg.version, origin: 'built-in' };
}

export { PLUGIN_PREFIXES };
