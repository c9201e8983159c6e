import { relative, isAbsolute } from 'node:path';
import { formatKeyPath, type KeySegment } from './tree.js';

/** Where a value was written. */
export interface SourceLocation {
  /** Absolute path of the file, or `<override>` for a command-line override. */
  file: string;
  /** 1-based line; absent for JS/TS configs, whose lines are not known after evaluation. */
  line?: number;
  /** 1-based column. */
  col?: number;
  /** The override text (`a.b=3`) when the value came from one. */
  override?: string;
  /** Set when `_copy` brought the value here: the key it was copied from and where the `_copy` is. */
  copiedFrom?: { keyPath: string; at: SourceLocation | undefined };
}

/** A key path, either formatted (`a.b[1].c`) or as segments. */
export type KeyPathLike = string | readonly KeySegment[];

function keyOf(path: KeyPathLike): string {
  return typeof path === 'string' ? path : formatKeyPath(path);
}

function isUnder(key: string, prefix: string): boolean {
  if (prefix === '') return true;
  return key === prefix || key.startsWith(`${prefix}.`) || key.startsWith(`${prefix}[`);
}

/** Formats a location as `file:line:col`, with the file relative to the working directory when inside it. */
export function formatLocation(location: SourceLocation | undefined): string {
  if (location === undefined) return '<unknown source>';
  let text: string;
  if (location.override !== undefined) {
    text = `override '${location.override}'`;
  } else {
    text = displayPath(location.file);
    if (location.line !== undefined) text += `:${location.line}`;
    if (location.line !== undefined && location.col !== undefined) text += `:${location.col}`;
  }
  if (location.copiedFrom) {
    text += ` (copied from ${location.copiedFrom.keyPath || '/'}`;
    if (location.copiedFrom.at) text += ` by _copy at ${formatLocation(location.copiedFrom.at)}`;
    text += ')';
  }
  return text;
}

/** A file path as people read it: relative to the working directory when the file is inside it. */
export function displayPath(file: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/**
 * Key path -> where its value was written. Keys are formatted key paths (`nas.search.trainer.epochs`,
 * `nas.eval.model_desc.model_stems.ops[1]`); `''` is the document root.
 */
export class SourceMap {
  private readonly map: Map<string, SourceLocation>;

  constructor(entries?: Iterable<[string, SourceLocation]>) {
    this.map = new Map(entries);
  }

  get size(): number {
    return this.map.size;
  }

  get(path: KeyPathLike): SourceLocation | undefined {
    return this.map.get(keyOf(path));
  }

  set(path: KeyPathLike, location: SourceLocation): void {
    this.map.set(keyOf(path), location);
  }

  /**
   * The location of `path`, or of its nearest recorded ancestor when the key itself was never
   * written (a missing key is reported where its parent mapping is).
   */
  locate(path: readonly PropertyKey[] | string): { keyPath: string; location: SourceLocation } | undefined {
    const segments = typeof path === 'string' ? null : [...path];
    let key = typeof path === 'string' ? path : formatKeyPath(path);
    for (;;) {
      const location = this.map.get(key);
      if (location) return { keyPath: key, location };
      if (key === '') return undefined;
      if (segments) {
        segments.pop();
        key = formatKeyPath(segments);
      } else {
        key = parentKey(key);
      }
    }
  }

  /** Removes the entry for `path` and everything below it. */
  deleteUnder(path: KeyPathLike): void {
    const prefix = keyOf(path);
    for (const key of [...this.map.keys()]) if (isUnder(key, prefix)) this.map.delete(key);
  }

  /** Entries at and below `path`, as [key relative to `path` (starting with `.` or `[`, or ''), location]. */
  entriesUnder(path: KeyPathLike): [string, SourceLocation][] {
    const prefix = keyOf(path);
    const out: [string, SourceLocation][] = [];
    for (const [key, location] of this.map) {
      if (!isUnder(key, prefix)) continue;
      let rest = key.slice(prefix.length);
      // Relative to the root, a key `a.b` becomes `.a.b` so that it can be appended to any prefix.
      if (prefix === '' && rest !== '' && !rest.startsWith('[')) rest = `.${rest}`;
      out.push([rest, location]);
    }
    return out;
  }

  /** Copies `source`'s entries at and below `from` to the same relative keys below `to`. */
  copyUnder(
    source: SourceMap,
    from: KeyPathLike,
    to: KeyPathLike,
    transform: (location: SourceLocation, fromKey: string) => SourceLocation = (l) => l,
  ): void {
    const fromKey = keyOf(from);
    const toKey = keyOf(to);
    for (const [rest, location] of source.entriesUnder(fromKey)) {
      const target = toKey === '' && rest.startsWith('.') ? rest.slice(1) : toKey + rest;
      const sourceKey = fromKey === '' && rest.startsWith('.') ? rest.slice(1) : fromKey + rest;
      this.map.set(target, transform(location, sourceKey));
    }
  }

  clone(): SourceMap {
    return new SourceMap(this.map);
  }

  entries(): IterableIterator<[string, SourceLocation]> {
    return this.map.entries();
  }

  toJSON(): Record<string, SourceLocation> {
    return Object.fromEntries(this.map);
  }
}

function parentKey(key: string): string {
  const dot = key.lastIndexOf('.');
  const bracket = key.lastIndexOf('[');
  const cut = Math.max(dot, bracket);
  return cut <= 0 ? '' : key.slice(0, cut);
}
