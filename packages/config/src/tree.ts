/** A loaded profile: nested YAML mappings, sequences and scalars as plain JS values. */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | ConfigTree;
export interface ConfigTree {
  [key: string]: ConfigValue;
}

/** One step of a key path: a mapping key or a sequence index. */
export type KeySegment = string | number;

export function isMapping(value: unknown): value is ConfigTree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function hasKey(tree: ConfigTree, key: string): boolean {
  return Object.hasOwn(tree, key);
}

/**
 * Deep copy that never shares objects between two places, unlike `structuredClone`, which keeps
 * the sharing that YAML aliases create. `_copy` resolution mutates nodes in place and resolves
 * relative paths from each node's own position, so every node must have exactly one position.
 */
export function cloneTree<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => cloneTree(item)) as T;
  if (isMapping(value)) {
    const out: ConfigTree = {};
    for (const [key, item] of Object.entries(value)) out[key] = cloneTree(item);
    return out as T;
  }
  return value;
}

/**
 * Formats `['nas', 'search', 'model_stems', 'ops', 1]` as `nas.search.model_stems.ops[1]`: the
 * override syntax for keys, brackets for sequence items. The empty path is the document root.
 */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}

/** Parses `a.b[2].c` back into segments; the inverse of `formatKeyPath`. */
export function parseKeyPath(text: string): KeySegment[] {
  if (text === '') return [];
  const segments: KeySegment[] = [];
  for (const part of text.split('.')) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      segments.push(part);
      continue;
    }
    if (match[1] !== '') segments.push(match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return segments;
}

/** The value at `path`, or undefined when some step is missing. */
export function getAt(tree: unknown, path: readonly KeySegment[]): unknown {
  let node: unknown = tree;
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(node) || segment >= node.length) return undefined;
      node = node[segment];
    } else {
      if (!isMapping(node) || !hasKey(node, segment)) return undefined;
      node = node[segment];
    }
  }
  return node;
}

/** A short human name for the kind of a value, used in error messages. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (isMapping(value)) return 'mapping';
  return typeof value;
}

/** Every key path in the tree (mappings and leaves, not sequence items), depth first. */
export function listKeyPaths(tree: ConfigTree, prefix: readonly KeySegment[] = []): KeySegment[][] {
  const out: KeySegment[][] = [];
  for (const [key, value] of Object.entries(tree)) {
    const path = [...prefix, key];
    out.push(path);
    if (isMapping(value)) out.push(...listKeyPaths(value, path));
  }
  return out;
}
