// Internal: turns YAML/JSON text into a plain tree plus a key path -> file:line map. Not exported
// from the package; use loadConfig.
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { type SourceLocation, SourceMap, displayPath } from '../sourceMap.js';
import { type ConfigTree, type ConfigValue, describeType, type KeySegment, isMapping } from '../tree.js';

export interface ParsedProfile {
  value: ConfigTree;
  sources: SourceMap;
}

// Aliases are expanded into copies (so every node has one position); a small file of nested
// aliases can still expand exponentially, so bound the work.
const MAX_NODES = 50_000;
// Profiles are a dozen levels deep; a limit far above that keeps every recursive walk of the tree
// (merging, _copy, validation) well inside the stack.
const MAX_DEPTH = 200;

/**
 * Parses a YAML (or JSON) profile. `subKey` selects one top-level key of the document as the
 * profile (the `"nas"` key of a package.json); keys are then recorded relative to it.
 */
export function parseProfileText(text: string, file: string, subKey?: string): ParsedProfile | null {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: true, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    const where = pos ? `${displayPath(file)}:${pos.line}:${pos.col}` : displayPath(file);
    throw new ConfigError(`${where}: malformed YAML: ${error.message}`, {
      location: { file, line: pos?.line, col: pos?.col },
      cause: error,
    });
  }
  const reader = new NodeReader(doc, lineCounter, file);
  let root: Node | null | undefined = doc.contents as Node | null;
  if (subKey !== undefined) {
    if (!isMap(root)) return null;
    const pair = root.items.find((item) => isScalar(item.key) && item.key.value === subKey);
    if (!pair) return null;
    root = pair.value as Node | null;
  }
  const value = root == null ? {} : reader.read(root, []);
  if (value === null) return { value: {}, sources: reader.sources };
  if (!isMapping(value)) {
    const location = root ? reader.locationOf(root) : { file, line: 1, col: 1 };
    throw new ConfigError(
      `${displayPath(file)}:${location.line}:${location.col}: a profile must be a mapping of keys at the top level, found a ${describeType(value)}`,
      { location },
    );
  }
  return { value, sources: reader.sources };
}

class NodeReader {
  readonly sources = new SourceMap();
  private nodeCount = 0;
  // Alias targets being read right now: meeting one again means the alias contains itself.
  private readonly active = new Set<Node>();
  private readonly aliasTargets = new Map<Node, Node | undefined>();

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    private readonly file: string,
  ) {}

  locationOf(node: Node): SourceLocation & { line: number; col: number } {
    const offset = node.range?.[0] ?? 0;
    const pos = this.lineCounter.linePos(offset);
    return { file: this.file, line: pos.line, col: pos.col };
  }

  private fail(node: Node, message: string): never {
    const location = this.locationOf(node);
    throw new ConfigError(`${displayPath(this.file)}:${location.line}:${location.col}: ${message}`, {
      location,
    });
  }

  read(node: Node, path: KeySegment[], sources: SourceMap = this.sources): ConfigValue {
    if (++this.nodeCount > MAX_NODES)
      this.fail(node, `more than ${MAX_NODES} values after expanding aliases`);
    if (path.length > MAX_DEPTH) this.fail(node, `values nested more than ${MAX_DEPTH} levels deep`);
    if (isAlias(node)) {
      // yaml's resolve walks the whole document; an expanded alias is met again and again.
      let target = this.aliasTargets.get(node);
      if (!this.aliasTargets.has(node)) {
        target = node.resolve(this.doc) as Node | undefined;
        this.aliasTargets.set(node, target);
      }
      if (!target) this.fail(node, `unknown alias *${node.source}`);
      if (this.active.has(target)) this.fail(node, `alias *${node.source} contains itself`);
      this.active.add(target);
      try {
        return this.read(target, path, sources);
      } finally {
        this.active.delete(target);
      }
    }
    if (isScalar(node)) {
      const value = node.value;
      if (value === null || value === undefined) return null;
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
      if (typeof value === 'bigint') return Number(value);
      this.fail(node, `unsupported value of type ${typeof value}`);
    }
    if (isSeq(node)) {
      return node.items.map((item, index) => {
        const itemNode = item as Node;
        sources.set([...path, index], this.locationOf(itemNode));
        return this.read(itemNode, [...path, index], sources);
      });
    }
    if (isMap(node)) return this.readMap(node, path, sources);
    return this.fail(node, 'unsupported YAML node');
  }

  private readMap(
    node: Node & { items: { key: unknown; value: unknown }[] },
    path: KeySegment[],
    sources: SourceMap,
  ) {
    const out: ConfigTree = {};
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const valueNode = pair.value as Node | null;
      if (keyNode && isScalar(keyNode) && typeof keyNode.value === 'symbol') {
        // `<<: *base`: keys of the merged mappings are added where this mapping lacks them.
        const merged = new SourceMap();
        const mergeValue = valueNode ? this.read(valueNode, path, merged) : null;
        const list = Array.isArray(mergeValue) ? mergeValue : [mergeValue];
        // Earlier sources win over later ones, so walk them in order and skip keys already set.
        list.forEach((item, index) => {
          if (!isMapping(item))
            this.fail(valueNode ?? node, 'a << merge needs a mapping or a list of mappings');
          for (const [key, value] of Object.entries(item)) {
            if (Object.hasOwn(out, key)) continue;
            out[key] = value;
            const from = Array.isArray(mergeValue) ? [...path, index, key] : [...path, key];
            sources.copyUnder(merged, from, [...path, key]);
          }
        });
        continue;
      }
      const key = this.keyString(keyNode, node);
      const childPath = [...path, key];
      sources.deleteUnder(childPath);
      sources.set(childPath, this.locationOf(keyNode ?? node));
      out[key] = valueNode == null ? null : this.read(valueNode, childPath, sources);
    }
    return out;
  }

  private keyString(keyNode: Node | null, parent: Node): string {
    if (keyNode == null) this.fail(parent, 'a mapping key is missing');
    if (!isScalar(keyNode)) this.fail(keyNode, 'mapping keys must be plain scalars');
    const key = keyNode.value == null ? '' : String(keyNode.value);
    // An empty key has no key path (`a..b`) and would stand for its parent in the source map.
    if (key === '') this.fail(keyNode, 'empty mapping key');
    if (key === '__proto__') this.fail(keyNode ?? parent, "the key '__proto__' is not allowed");
    return key;
  }
}

/** Source entries for a tree that has no text positions (a JS/TS config): every key maps to the file. */
export function sourcesForPlainTree(value: unknown, file: string, what: string): ParsedProfile {
  const sources = new SourceMap();
  const check = (node: unknown, path: KeySegment[]): ConfigValue => {
    if (node === null || typeof node === 'string' || typeof node === 'boolean') return node;
    if (typeof node === 'number') return node;
    if (Array.isArray(node)) {
      return node.map((item, index) => {
        sources.set([...path, index], { file });
        return check(item, [...path, index]);
      });
    }
    if (
      isMapping(node) &&
      (Object.getPrototypeOf(node) === Object.prototype || Object.getPrototypeOf(node) === null)
    ) {
      const out: ConfigTree = {};
      for (const [key, item] of Object.entries(node)) {
        if (item === undefined) continue;
        sources.set([...path, key], { file });
        out[key] = check(item, [...path, key]);
      }
      return out;
    }
    const keyPath = path.map(String).join('.');
    throw new ConfigError(
      `${displayPath(file)}: ${keyPath || 'the exported value'}: ${what} may only hold plain data (mappings, lists, strings, numbers, booleans, null), found ${typeof node === 'object' ? (node?.constructor?.name ?? 'object') : typeof node}`,
      { location: { file }, keyPath },
    );
  };
  const tree = value === undefined || value === null ? {} : check(value, []);
  if (!isMapping(tree)) {
    throw new ConfigError(
      `${displayPath(file)}: ${what} must export a mapping of keys, found a ${describeType(tree)}`,
      {
        location: { file },
      },
    );
  }
  return { value: tree, sources };
}
