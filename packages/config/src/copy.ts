import { ConfigError, locatedMessage } from './errors.js';
import { type SourceLocation, SourceMap, formatLocation } from './sourceMap.js';
import {
  type ConfigTree,
  type ConfigValue,
  cloneTree,
  describeType,
  formatKeyPath,
  hasKey,
  isMapping,
} from './tree.js';

/** The key that makes a mapping copy the missing keys of another mapping (node form). */
export const COPY_KEY = '_copy';
/** The prefix that makes a string value a copy of another value (value form). */
export const COPY_PREFIX = '_copy:';

/** The path of a value-form reference (`'_copy: /common/seed'` -> `/common/seed`), else undefined. */
export function copyReference(value: unknown): string | undefined {
  if (typeof value === 'string' && value.startsWith(COPY_PREFIX))
    return value.slice(COPY_PREFIX.length).trim();
  return undefined;
}

/**
 * Archai's `_rel2full_path`: an absolute `_copy` path (`/a/b`) starts at the root, a relative one
 * (`../x`, `x`, `./x`) at `from`, the path of the node or key that holds the `_copy`.
 */
export function resolveCopyPath(from: readonly string[], ref: string): string[] | { aboveRoot: true } {
  const parts = ref.startsWith('/') ? [] : [...from];
  for (const raw of ref.split('/')) {
    const part = raw.trim();
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return { aboveRoot: true };
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts;
}

/** Resolves every `_copy` in a copy of `tree`; `tree` itself is not changed. */
export function resolveCopies(tree: ConfigTree, sources?: SourceMap): ConfigTree {
  return resolveCopiesWithSources(tree, sources ?? new SourceMap()).tree;
}

/**
 * Resolves every `_copy` in a copy of `tree` and returns it with a source map in which each copied
 * key points at the place its value was written, and at the `_copy` that brought it.
 */
export function resolveCopiesWithSources(
  tree: ConfigTree,
  sources: SourceMap,
): { tree: ConfigTree; sources: SourceMap } {
  const resolver = new CopyResolver(cloneTree(tree), sources.clone());
  resolver.resolveMapping(resolver.root, []);
  return { tree: resolver.root, sources: resolver.sources };
}

function slashPath(path: readonly string[]): string {
  return `/${path.join('/')}`;
}

interface ActiveStep {
  id: string;
  // Null for bookkeeping steps (resolving a whole mapping) that are not worth showing in a chain.
  label: string | null;
  at?: SourceLocation | undefined;
}

/**
 * Lazy, recursive resolution in Archai's order: a mapping first merges its own `_copy`, then
 * resolves its keys in order; a target is fully resolved before it is read. Unlike Archai, any
 * re-entry into a step in progress is reported as a cycle with the chain of `_copy`s.
 */
class CopyResolver {
  private readonly active: ActiveStep[] = [];
  private readonly done = new WeakSet<ConfigTree>();

  constructor(
    readonly root: ConfigTree,
    readonly sources: SourceMap,
  ) {}

  resolveMapping(node: ConfigTree, path: string[]): void {
    if (this.done.has(node)) return;
    this.enter(`node ${slashPath(path)}`, null, path);
    this.mergeNodeCopy(node, path);
    for (const key of Object.keys(node)) {
      const childPath = [...path, key];
      if (copyReference(node[key]) !== undefined) this.resolveValueCopy(node, key, childPath);
      else if (isMapping(node[key])) this.resolveMapping(node[key], childPath);
    }
    this.active.pop();
    this.done.add(node);
  }

  private mergeNodeCopy(node: ConfigTree, path: string[]): void {
    if (!hasKey(node, COPY_KEY)) return;
    const ref = node[COPY_KEY];
    const copyPath = [...path, COPY_KEY];
    const at = this.sources.get(copyPath);
    if (ref === null || ref === '') {
      // `_copy: null` (e.g. from a later file or an override) switches an inherited copy off.
      delete node[COPY_KEY];
      this.sources.deleteUnder(copyPath);
      return;
    }
    if (typeof ref !== 'string') {
      throw this.error(
        at,
        formatKeyPath(copyPath),
        `_copy needs a path string such as '/common/apex', found a ${describeType(ref)}`,
      );
    }
    this.enter(
      `merge ${slashPath(path)}`,
      `${formatKeyPath(path) || '/'} (_copy: ${ref} at ${formatLocation(at)})`,
      path,
      at,
    );
    const target = this.absolute(path, ref.trim(), at, formatKeyPath(copyPath));
    const source = this.lookup(target, at, formatKeyPath(copyPath));
    if (!isMapping(source)) {
      throw this.error(
        at,
        formatKeyPath(copyPath),
        `_copy: ${ref} in a mapping copies keys, so ${slashPath(target)} must be a mapping, but it is a ${describeType(source)}; write 'key: _copy: ${ref}' to copy a value`,
      );
    }
    delete node[COPY_KEY];
    this.sources.deleteUnder(copyPath);
    this.mergeMissing(source, node, target, path, at);
    this.active.pop();
  }

  // Archai's _merge_source: only keys the node lacks are copied; nested mappings merge recursively.
  private mergeMissing(
    source: ConfigTree,
    dest: ConfigTree,
    sourcePath: string[],
    destPath: string[],
    at: SourceLocation | undefined,
  ) {
    for (const [key, value] of Object.entries(source)) {
      if (!hasKey(dest, key)) {
        dest[key] = cloneTree(value);
        this.copySources([...sourcePath, key], [...destPath, key], at);
      } else if (isMapping(value) && isMapping(dest[key])) {
        this.mergeMissing(value, dest[key], [...sourcePath, key], [...destPath, key], at);
      }
    }
  }

  private resolveValueCopy(parent: ConfigTree, key: string, path: string[]): void {
    const ref = copyReference(parent[key])!;
    const at = this.sources.get(path);
    const keyPath = formatKeyPath(path);
    this.enter(`value ${slashPath(path)}`, `${keyPath} ('_copy: ${ref}' at ${formatLocation(at)})`, path, at);
    const target = this.absolute(path, ref, at, keyPath);
    parent[key] = this.lookup(target, at, keyPath);
    this.copySources(target, path, at);
    this.active.pop();
  }

  /** The fully resolved value at `target`, as a fresh copy. */
  private lookup(target: string[], at: SourceLocation | undefined, keyPath: string): ConfigValue {
    let node: ConfigValue = this.root;
    const walked: string[] = [];
    for (const part of target) {
      if (!isMapping(node)) {
        throw this.error(
          at,
          keyPath,
          `cannot resolve _copy target ${slashPath(target)}: ${slashPath(walked)} is a ${describeType(node)}, not a mapping`,
        );
      }
      // The key may come from the mapping's own _copy, which is merged lazily.
      if (!hasKey(node, part) && hasKey(node, COPY_KEY)) this.mergeNodeCopy(node, walked);
      if (!hasKey(node, part)) {
        const keys = Object.keys(node);
        throw this.error(
          at,
          keyPath,
          `cannot resolve _copy target ${slashPath(target)}: ${slashPath(walked)} has no key '${part}'` +
            (keys.length ? ` (its keys: ${keys.slice(0, 20).join(', ')})` : ' (it is empty)'),
        );
      }
      walked.push(part);
      if (copyReference(node[part]) !== undefined) this.resolveValueCopy(node, part, [...walked]);
      node = node[part]!;
    }
    if (isMapping(node)) this.resolveMapping(node, walked);
    return cloneTree(node);
  }

  private absolute(from: string[], ref: string, at: SourceLocation | undefined, keyPath: string): string[] {
    const target = resolveCopyPath(from, ref);
    if (!Array.isArray(target)) {
      throw this.error(at, keyPath, `_copy path '${ref}' goes above the root ('..' from ${slashPath(from)})`);
    }
    return target;
  }

  private copySources(from: string[], to: string[], at: SourceLocation | undefined): void {
    this.sources.deleteUnder(to);
    this.sources.copyUnder(this.sources, from, to, (location, fromKey) => ({
      ...location,
      copiedFrom: { keyPath: fromKey, at },
    }));
  }

  private enter(id: string, label: string | null, path: string[], at?: SourceLocation): void {
    const index = this.active.findIndex((step) => step.id === id);
    if (index >= 0) {
      const chain = this.active
        .slice(index)
        .map((step) => step.label)
        .filter((label): label is string => label !== null);
      chain.push(formatKeyPath(path) || '/');
      const first = this.active.slice(index).find((step) => step.label !== null);
      const location = first?.at ?? at;
      throw new ConfigError(locatedMessage(location, undefined, `circular _copy: ${chain.join(' -> ')}`), {
        location,
        keyPath: formatKeyPath(path),
      });
    }
    this.active.push({ id, label, at });
  }

  private error(at: SourceLocation | undefined, keyPath: string, message: string): ConfigError {
    return new ConfigError(locatedMessage(at, keyPath, message), { location: at, keyPath });
  }
}
