import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { archaiProfileWarning, isArchaiProfile, mapArchaiProfile } from './archai-profile.js';
import { resolveCopiesWithSources } from './copy.js';
import { ConfigError, locatedMessage } from './errors.js';
import { expandPath } from './expand.js';
import { type ParsedProfile, parseProfileText, sourcesForPlainTree } from './internal/yamlReader.js';
import { loadScriptConfig, SCRIPT_EXTENSIONS } from './internal/scriptLoader.js';
import { applyOverrides } from './overrides.js';
import { type SourceLocation, SourceMap, displayPath } from './sourceMap.js';
import { type ConfigTree, type KeySegment, getAt, isMapping, parseKeyPath } from './tree.js';
import { validateConfig } from './validate.js';

/** The key whose file(s) a profile is layered on. */
export const INCLUDE_KEY = '__include__';

const YAML_EXTENSIONS = new Set(['.yaml', '.yml', '.json', '']);

export interface LoadOptions {
  /** `a.b.c=value` overrides, applied in order after all files. */
  overrides?: readonly string[];
  /** Folder that relative file names are resolved from; default `process.cwd()`. */
  cwd?: string;
  /** When given, the resolved tree is validated and a ConfigError lists every problem. */
  schema?: z.ZodType;
  /** Called with each warning (the keys an Archai profile has that tsnas ignores); default: stderr. */
  onWarning?: (message: string) => void;
}

export interface LoadedConfig {
  /** The fully resolved profile: includes merged, overrides applied, every `_copy` resolved. */
  tree: ConfigTree;
  /** The merged, unresolved profile (with overrides), still holding `_copy`. */
  raw: ConfigTree;
  /** Key path -> where the resolved value was written. */
  sources: SourceMap;
  /** Key path -> where each key of `raw` was written. */
  rawSources: SourceMap;
  /** Every file read, included ones too, in the order they were merged. */
  files: string[];
  /** The warnings given while loading (also passed to `onWarning`). */
  warnings: string[];
  /** The resolved value at `a.b.c` (or `a.b[0]`), undefined when missing. */
  get(path: string | readonly KeySegment[]): unknown;
  /** Where the value at a key path (or its nearest ancestor) was written. */
  locate(path: string | readonly KeySegment[]): SourceLocation | undefined;
}

interface LoadState {
  topFile?: string;
  tree: ConfigTree;
  sources: SourceMap;
  files: string[];
  warnings: string[];
}

// The include walk is written once as a generator that yields file names; a sync and an async
// driver read them. Read errors are thrown back in so they can name the including file.
type Steps = Generator<string, void, ParsedProfile>;

function* mergeFile(file: string, state: LoadState, stack: string[], includedFrom?: SourceLocation): Steps {
  if (stack.includes(file)) {
    const chain = [...stack.slice(stack.indexOf(file)), file].map(displayPath).join(' -> ');
    throw new ConfigError(locatedMessage(includedFrom, INCLUDE_KEY, `include cycle: ${chain}`), {
      location: includedFrom,
      keyPath: INCLUDE_KEY,
    });
  }
  let parsed: ParsedProfile;
  try {
    parsed = yield file;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT' || code === 'EISDIR') {
      const what = code === 'ENOENT' ? 'not found' : 'is a folder';
      const message = includedFrom
        ? locatedMessage(includedFrom, INCLUDE_KEY, `included file ${displayPath(file)} ${what}`)
        : `config file ${displayPath(file)} ${what}`;
      throw new ConfigError(message, {
        location: includedFrom ?? { file },
        keyPath: includedFrom ? INCLUDE_KEY : undefined,
      });
    }
    throw error;
  }
  if (isArchaiProfile(parsed.value)) {
    const mapping = mapArchaiProfile(parsed.value, parsed.sources);
    state.warnings.push(archaiProfileWarning(displayPath(file), mapping));
  }
  checkNoNestedInclude(parsed.value, [], parsed.sources);
  const includes = parsed.value[INCLUDE_KEY];
  if (includes !== undefined && includes !== null) {
    const list = Array.isArray(includes) ? includes : [includes];
    for (const [index, include] of list.entries()) {
      const at = parsed.sources.get(Array.isArray(includes) ? [INCLUDE_KEY, index] : [INCLUDE_KEY]);
      if (typeof include !== 'string') {
        throw new ConfigError(
          locatedMessage(at, INCLUDE_KEY, `expected a file name or a list of file names`),
          {
            location: at,
            keyPath: INCLUDE_KEY,
          },
        );
      }
      let expanded: string;
      try {
        expanded = expandPath(include, {}, { keyPath: INCLUDE_KEY });
      } catch (error) {
        // expandPath knows the key, not the file: say where the include was written.
        const message = (error as Error).message.replace(`${INCLUDE_KEY}: `, '');
        throw new ConfigError(locatedMessage(at, INCLUDE_KEY, message), {
          location: at,
          keyPath: INCLUDE_KEY,
        });
      }
      const target = includeTarget(file, expanded, at);
      yield* mergeFile(target, state, [...stack, file], at);
    }
  }
  delete parsed.value[INCLUDE_KEY];
  parsed.sources.deleteUnder([INCLUDE_KEY]);
  // The including file's own keys deep-update what its includes built, as in Archai.
  state.files.push(file);
  deepUpdate(state.tree, parsed.value, [], state.sources, parsed.sources);
}

/** `@scope/pkg/file.yaml` or `pkg/file.yaml`: a file shipped by a package (its `exports` must allow it). */
const PACKAGE_FILE = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*\/.+/i;

/**
 * An include is a path relative to the including file (Archai's form). When no such file exists
 * and the name looks like `<package>/<file>`, it is resolved as a file of an installed package, as
 * Node resolves it from the including file: plug-ins can layer on a profile another package ships.
 */
function includeTarget(file: string, include: string, at: SourceLocation | undefined): string {
  const relative = resolve(dirname(file), include);
  if (
    include.startsWith('.') ||
    include.startsWith('/') ||
    existsSync(relative) ||
    !PACKAGE_FILE.test(include)
  ) {
    return relative;
  }
  try {
    return createRequire(file).resolve(include);
  } catch (error) {
    const why =
      (error as { code?: string }).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'
        ? 'the package does not export that file'
        : 'no installed package provides it';
    throw new ConfigError(
      locatedMessage(
        at,
        INCLUDE_KEY,
        `cannot include '${include}': not a file next to ${displayPath(file)}, and ${why}`,
      ),
      { location: at, keyPath: INCLUDE_KEY },
    );
  }
}

function checkNoNestedInclude(node: ConfigTree, path: string[], sources: SourceMap): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === INCLUDE_KEY && path.length > 0) {
      const keyPath = [...path, key].join('.');
      const at = sources.get([...path, key]);
      throw new ConfigError(
        locatedMessage(at, keyPath, `${INCLUDE_KEY} is only allowed at the top level of a file`),
        {
          location: at,
          keyPath,
        },
      );
    }
    if (isMapping(value)) checkNoNestedInclude(value, [...path, key], sources);
  }
}

/**
 * Archai's `deep_update`: mappings merge key by key, anything else (scalars, lists, null) replaces.
 * The source map follows: a replaced key forgets the locations of what was below it.
 */
export function deepUpdate(
  target: ConfigTree,
  update: ConfigTree,
  path: string[],
  targetSources: SourceMap,
  updateSources: SourceMap,
): void {
  for (const [key, value] of Object.entries(update)) {
    const childPath = [...path, key];
    if (isMapping(value)) {
      if (!isMapping(target[key])) {
        target[key] = {};
        targetSources.deleteUnder(childPath);
      }
      const location = updateSources.get(childPath);
      if (location) targetSources.set(childPath, location);
      deepUpdate(target[key] as ConfigTree, value, childPath, targetSources, updateSources);
    } else {
      target[key] = value;
      targetSources.deleteUnder(childPath);
      targetSources.copyUnder(updateSources, childPath, childPath);
    }
  }
}

/** Profile files: paths (relative to `cwd`), `file:` URLs (a plug-in's `new URL('../x.yaml', import.meta.url)`). */
export type ProfileFiles = readonly (string | URL)[] | string;

function fileList(files: ProfileFiles, cwd: string): string[] {
  // Archai accepts one string of `;`-separated files.
  const list = typeof files === 'string' ? files.split(';') : files;
  return list
    .map((file) => (file instanceof URL ? fileURLToPath(file) : file.trim()))
    .filter((file) => file !== '')
    .map((file) => resolve(cwd, file));
}

function readProfile(file: string, text: string): ParsedProfile {
  const ext = extname(file);
  if (basename(file) === 'package.json') {
    const parsed = parseProfileText(text, file, 'nas');
    if (!parsed) throw new ConfigError(`${displayPath(file)}: has no "nas" key`, { location: { file } });
    return parsed;
  }
  if (YAML_EXTENSIONS.has(ext)) return parseProfileText(text, file)!;
  throw new ConfigError(
    `${displayPath(file)}: unsupported config file type '${ext}'; use .yaml, .yml, .json, .js, .mjs, .cjs or .ts`,
    { location: { file } },
  );
}

function readProfileSync(file: string): ParsedProfile {
  if (SCRIPT_EXTENSIONS.has(extname(file))) {
    throw new ConfigError(
      `${displayPath(file)}: JS/TS configs can only be loaded with the async loadConfig`,
      {
        location: { file },
      },
    );
  }
  return readProfile(file, readFileSync(file, 'utf8'));
}

async function readProfileAsync(file: string): Promise<ParsedProfile> {
  const text = await readFile(file, 'utf8');
  if (SCRIPT_EXTENSIONS.has(extname(file))) {
    return sourcesForPlainTree(await loadScriptConfig(file, text), file, 'a JS/TS config');
  }
  return readProfile(file, text);
}

function newState(): LoadState {
  return { tree: {}, sources: new SourceMap(), files: [], warnings: [] };
}

function drive(steps: Steps, read: (file: string) => ParsedProfile): void {
  let step = steps.next();
  while (!step.done) {
    let parsed: ParsedProfile;
    try {
      parsed = read(step.value);
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(parsed);
  }
}

async function driveAsync(steps: Steps, read: (file: string) => Promise<ParsedProfile>): Promise<void> {
  let step = steps.next();
  while (!step.done) {
    let parsed: ParsedProfile;
    try {
      parsed = await read(step.value);
    } catch (error) {
      step = steps.throw(error);
      continue;
    }
    step = steps.next(parsed);
  }
}

function finish(state: LoadState, options: LoadOptions): LoadedConfig {
  // A missing top-level key is reported at the top of the first file given (not of its includes).
  if (state.topFile !== undefined) state.sources.set('', { file: state.topFile, line: 1, col: 1 });
  let raw = state.tree;
  let rawSources = state.sources;
  let resolved = resolveCopiesWithSources(raw, rawSources);
  if (options.overrides?.length) {
    ({ raw, sources: rawSources } = applyOverrides(raw, resolved.tree, options.overrides, rawSources));
    resolved = resolveCopiesWithSources(raw, rawSources);
  }
  if (options.schema) validateConfig(resolved.tree, options.schema, resolved.sources);
  const { tree, sources } = resolved;
  const warn = options.onWarning ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  for (const message of state.warnings) warn(message);
  const segments = (path: string | readonly KeySegment[]) =>
    typeof path === 'string' ? parseKeyPath(path) : path;
  return {
    tree,
    raw,
    sources,
    rawSources,
    files: state.files,
    warnings: state.warnings,
    get: (path) => getAt(tree, segments(path)),
    locate: (path) => sources.locate(segments(path))?.location,
  };
}

/**
 * Loads profiles in order (each deep-updates the tree so far; `__include__`s are loaded before the
 * file that names them), applies overrides, resolves `_copy`, and validates when given a schema.
 * Reads YAML, JSON, `package.json` (its `"nas"` key) and JS/TS configs.
 */
export async function loadConfig(files: ProfileFiles, options: LoadOptions = {}): Promise<LoadedConfig> {
  const state = newState();
  for (const file of fileList(files, options.cwd ?? process.cwd())) {
    state.topFile ??= file;
    await driveAsync(mergeFile(file, state, []), readProfileAsync);
  }
  return finish(state, options);
}

/** `loadConfig` for YAML/JSON files only (JS/TS configs need `import()`, which is async). */
export function loadConfigSync(files: ProfileFiles, options: LoadOptions = {}): LoadedConfig {
  const state = newState();
  for (const file of fileList(files, options.cwd ?? process.cwd())) {
    state.topFile ??= file;
    drive(mergeFile(file, state, []), readProfileSync);
  }
  return finish(state, options);
}

/** Parses one YAML profile text (no includes) into a tree and its source map; for tools and tests. */
export function parseProfile(text: string, file = '<string>'): { tree: ConfigTree; sources: SourceMap } {
  const parsed = parseProfileText(text, file)!;
  return { tree: parsed.value, sources: parsed.sources };
}

export type { KeySegment };
