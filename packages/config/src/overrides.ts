import { distance } from 'fastest-levenshtein';
import { parse as parseYaml } from 'yaml';
import { COPY_KEY, copyReference } from './copy.js';
import { ConfigError } from './errors.js';
import { type SourceLocation, type SourceMap, formatLocation } from './sourceMap.js';
import {
  type ConfigTree,
  type ConfigValue,
  cloneTree,
  describeType,
  formatKeyPath,
  getAt,
  hasKey,
  isMapping,
  listKeyPaths,
} from './tree.js';

/** `a.b.c=value` split into its key path and its (still textual) value. */
export interface ParsedOverride {
  text: string;
  path: string[];
  value: string;
}

/** Splits `a.b.c=value` at the first `=`; a leading `--` is accepted and dropped. */
export function parseOverride(text: string): ParsedOverride {
  const body = text.startsWith('--') ? text.slice(2) : text;
  const eq = body.indexOf('=');
  if (eq <= 0) {
    throw new ConfigError(`override '${text}': expected key.path=value, e.g. nas.search.trainer.epochs=2`);
  }
  const keyText = body.slice(0, eq).trim();
  const path = keyText.split('.');
  if (path.some((segment) => segment === '')) {
    throw new ConfigError(`override '${text}': the key path '${keyText}' has an empty segment`, {
      keyPath: keyText,
    });
  }
  return { text, path, value: body.slice(eq + 1) };
}

const TRUE_WORDS = new Set(['true', 'yes', 'y', 'on', '1', 't']);
const FALSE_WORDS = new Set(['false', 'no', 'n', 'off', '0', 'f']);

/**
 * Casts an override's text to the type of the value already at its key (Archai casts with
 * `type(existing)`): number, boolean (true/false, yes/no, on/off, 1/0), string (taken verbatim),
 * null (parsed as a YAML value), list or mapping (parsed as YAML flow, `[a, b]`, `{k: v}`, or `null`).
 */
export function castOverride(
  existing: unknown,
  text: string,
  keyPath: string,
  overrideText = `${keyPath}=${text}`,
): ConfigValue {
  const fail = (expected: string, detail = ''): never => {
    const location: SourceLocation = { file: '<override>', override: overrideText };
    throw new ConfigError(
      `override '${overrideText}': cannot set ${keyPath} to '${text}': expected ${expected}` +
        ` (its current value ${JSON.stringify(existing)} is a ${describeType(existing)})${detail}`,
      { location, keyPath },
    );
  };
  const trimmed = text.trim();
  switch (describeType(existing)) {
    case 'number': {
      if (/^[-+]?\.?nan$/i.test(trimmed)) return Number.NaN;
      const inf = /^([-+]?)\.?inf(inity)?$/i.exec(trimmed);
      if (inf) return inf[1] === '-' ? -Infinity : Infinity;
      const value = Number(trimmed);
      if (trimmed === '' || !Number.isFinite(value)) fail('a number');
      return value;
    }
    case 'boolean': {
      const word = trimmed.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return fail('a boolean (true/false, yes/no, on/off, 1/0)');
    }
    case 'string':
      return text;
    case 'null': {
      // Nothing to go by: read it as YAML (`3` is a number, `[a, b]` a list), or as text.
      const value = parseYamlValue(text);
      return value === undefined ? text : value;
    }
    case 'list': {
      const value = parseYamlValue(text);
      if (value === undefined)
        return fail('a list in YAML flow syntax, e.g. [a, b]', ': it is not valid YAML');
      if (value !== null && !Array.isArray(value)) fail('a list in YAML flow syntax, e.g. [a, b]');
      return value;
    }
    case 'mapping': {
      const value = parseYamlValue(text);
      if (value === undefined)
        return fail('a mapping in YAML flow syntax, e.g. {lr: 0.1}', ': it is not valid YAML');
      if (value !== null && !isMapping(value)) fail('a mapping in YAML flow syntax, e.g. {lr: 0.1}');
      return value;
    }
    default:
      return fail('a plain value');
  }
}

// undefined = not valid YAML.
function parseYamlValue(text: string): ConfigValue | undefined {
  try {
    return (parseYaml(text) ?? null) as ConfigValue;
  } catch {
    return undefined;
  }
}

/**
 * Applies `a.b.c=value` overrides to the unresolved tree `raw`, before `_copy` resolution, so that
 * overriding a copy source changes every place that copies it (Archai's order). `resolved` (the
 * resolved `raw`) decides whether a path exists and what type the value must have. Unlike Archai,
 * an unknown path is an error that names the closest existing keys. Returns new trees; the inputs
 * are not changed.
 */
export function applyOverrides(
  raw: ConfigTree,
  resolved: ConfigTree,
  overrides: readonly string[],
  sources: SourceMap,
): { raw: ConfigTree; sources: SourceMap } {
  const out = cloneTree(raw);
  const outSources = sources.clone();
  for (const text of overrides) {
    const override = parseOverride(text);
    const { path } = override;
    const keyPath = formatKeyPath(path);
    let node: ConfigValue = resolved;
    for (const [index, segment] of path.entries()) {
      if (!isMapping(node)) {
        const parentPath = formatKeyPath(path.slice(0, index));
        throw new ConfigError(
          `override '${text}': ${parentPath} is a ${describeType(node)} (${JSON.stringify(node)}, set at ${formatLocation(sources.locate(path.slice(0, index))?.location)}), so it has no key '${segment}'`,
          { location: { file: '<override>', override: text }, keyPath },
        );
      }
      if (!hasKey(node, segment)) throw unknownKeyError(resolved, path, index, text);
      node = node[segment]!;
    }
    const value = castOverride(node, override.value, keyPath, text);
    writeAt(out, path, value, outSources);
    const location: SourceLocation = { file: '<override>', override: text };
    outSources.deleteUnder(path);
    outSources.set(path, location);
    setNestedSources(value, path, location, outSources);
  }
  return { raw: out, sources: outSources };
}

// Walks the unresolved tree, making room for the key where it only exists through a _copy.
function writeAt(tree: ConfigTree, path: readonly string[], value: ConfigValue, sources: SourceMap): void {
  let node = tree;
  for (let index = 0; index < path.length - 1; index++) {
    const segment = path[index]!;
    const child = node[segment];
    const ref = copyReference(child);
    if (ref !== undefined) {
      // `k: '_copy: /x'` is the same as `k: {_copy: /x}` for a mapping target (both resolve `/x`
      // from k's own path), and the node form lets the overridden key win over the copied one.
      const at = sources.get(path.slice(0, index + 1));
      node[segment] = { [COPY_KEY]: ref };
      if (at) sources.set([...path.slice(0, index + 1), COPY_KEY], at);
    } else if (child === undefined) {
      // The key comes from an ancestor's node-form _copy, which merges keys this mapping lacks.
      node[segment] = {};
    } else if (!isMapping(child)) {
      throw new ConfigError(
        `override '${path.join('.')}': cannot write below ${formatKeyPath(path.slice(0, index + 1))}, which is a ${describeType(child)} in the unresolved profile`,
      );
    }
    node = node[segment] as ConfigTree;
  }
  node[path[path.length - 1]!] = value;
}

function setNestedSources(
  value: ConfigValue,
  path: (string | number)[],
  location: SourceLocation,
  sources: SourceMap,
) {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      sources.set([...path, index], location);
      setNestedSources(item, [...path, index], location, sources);
    });
  } else if (isMapping(value)) {
    for (const [key, item] of Object.entries(value)) {
      sources.set([...path, key], location);
      setNestedSources(item, [...path, key], location, sources);
    }
  }
}

/**
 * Closest existing keys for a key path that does not exist: sibling keys within a small edit
 * distance of the missing one, and full paths that end with what was typed (a forgotten prefix)
 * or are a small edit away from it.
 */
export function suggestKeyPaths(tree: ConfigTree, path: readonly string[], limit = 5): string[] {
  let missingAt = 0;
  while (missingAt < path.length && getAt(tree, path.slice(0, missingAt + 1)) !== undefined) missingAt++;
  const parentPath = path.slice(0, missingAt);
  const parent = getAt(tree, parentPath);
  const missing = path[missingAt] ?? '';
  const scored = new Map<string, number>();
  const add = (candidate: string, score: number) => {
    const previous = scored.get(candidate);
    if (previous === undefined || score < previous) scored.set(candidate, score);
  };
  const wanted = path.join('.');
  if (isMapping(parent)) {
    const budget = Math.max(2, Math.floor(missing.length / 3));
    for (const sibling of Object.keys(parent)) {
      let d = distance(missing, sibling);
      // A typed prefix of a longer key (`epoch` for `epoch_size`) is close too.
      if (d > budget && missing.length >= 3 && sibling.startsWith(missing)) d = budget + 0.5;
      if (d > budget + 0.5) continue;
      const candidate = [...parentPath, sibling, ...path.slice(missingAt + 1)];
      add(formatKeyPath(getAt(tree, candidate) === undefined ? [...parentPath, sibling] : candidate), d);
    }
  }
  for (const candidatePath of listKeyPaths(tree)) {
    const candidate = formatKeyPath(candidatePath);
    if (candidate.endsWith(`.${wanted}`)) add(candidate, 0.5);
    else {
      const d = distance(wanted, candidate);
      if (d <= Math.max(2, Math.floor(wanted.length / 10))) add(candidate, d);
    }
  }
  return [...scored.entries()]
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([candidate]) => candidate);
}

function unknownKeyError(
  resolved: ConfigTree,
  path: readonly string[],
  index: number,
  text: string,
): ConfigError {
  const parentPath = path.slice(0, index);
  const parent = getAt(resolved, parentPath) as ConfigTree;
  const parentName = parentPath.length ? formatKeyPath(parentPath) : 'the top level';
  const suggestions = suggestKeyPaths(resolved, path);
  const siblings = Object.keys(parent);
  let message = `override '${text}': unknown key ${formatKeyPath(path)}: ${parentName} has no key '${path[index]}'.`;
  if (suggestions.length) message += ` Did you mean ${suggestions.join(' or ')}?`;
  message += siblings.length
    ? ` Keys in ${parentName}: ${siblings.slice(0, 25).join(', ')}${siblings.length > 25 ? ', ...' : ''}`
    : ` ${parentName} is empty.`;
  return new ConfigError(message, {
    location: { file: '<override>', override: text },
    keyPath: formatKeyPath(path),
  });
}
