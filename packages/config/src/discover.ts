import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { cosmiconfig, defaultLoaders, type Loader } from 'cosmiconfig';
import { ConfigError } from './errors.js';
import { parseProfileText } from './internal/yamlReader.js';
import { loadScriptConfig } from './internal/scriptLoader.js';
import { displayPath } from './sourceMap.js';
import { type ConfigTree, describeType, isMapping } from './tree.js';

/** Where a user config is looked for in each folder, first match wins. */
export const USER_CONFIG_FILES = [
  'nas.config.yaml',
  'nas.config.yml',
  'nas.config.json',
  'nas.config.js',
  'nas.config.mjs',
  'nas.config.cjs',
  'nas.config.ts',
  '.nasrc',
  '.nasrc.yaml',
  '.nasrc.yml',
  '.nasrc.json',
  '.nasrc.js',
  '.nasrc.mjs',
  '.nasrc.cjs',
  '.nasrc.ts',
  'package.json',
] as const;

export interface UserConfig {
  filepath: string;
  /** The file's content as loaded (no `__include__`/`_copy` processing); pass `filepath` to loadConfig for that. */
  config: ConfigTree;
}

function isProjectRoot(dir: string): boolean {
  if (existsSync(join(dir, 'pnpm-workspace.yaml')) || existsSync(join(dir, '.git'))) return true;
  const pkg = join(dir, 'package.json');
  if (!existsSync(pkg)) return false;
  try {
    return JSON.parse(readFileSync(pkg, 'utf8'))?.workspaces !== undefined;
  } catch {
    return false;
  }
}

/**
 * The nearest folder at or above `start` that has a pnpm-workspace.yaml, a .git, or a package.json
 * with `workspaces`; undefined when there is none up to the filesystem root.
 */
export function findProjectRoot(start: string = process.cwd()): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (isProjectRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

// YAML goes through the same parser as profiles (YAML 1.2, file:line:col errors) rather than
// cosmiconfig's js-yaml; JS and TS go through cosmiconfig's loaders.
const yamlLoader: Loader = (filepath, content) => parseProfileText(content, filepath)?.value ?? null;
const scriptLoader: Loader = (filepath, content) => loadScriptConfig(filepath, content);

/**
 * Finds the user's config: in `cwd`, then each parent folder up to and including the project root
 * (see findProjectRoot), or up to the filesystem root outside a project. Looks for
 * `nas.config.{yaml,yml,json,js,mjs,cjs,ts}`, `.nasrc` (YAML), `.nasrc.{yaml,yml,json,js,mjs,cjs,ts}`
 * and a `"nas"` key in package.json. Two config files in one folder are an error.
 */
export async function findUserConfig(cwd: string = process.cwd()): Promise<UserConfig | null> {
  const start = resolve(cwd);
  const root = findProjectRoot(start);
  const explorer = cosmiconfig('nas', {
    searchPlaces: [...USER_CONFIG_FILES],
    searchStrategy: 'none',
    cache: false,
    loaders: {
      '.yaml': yamlLoader,
      '.yml': yamlLoader,
      noExt: yamlLoader,
      '.json': defaultLoaders['.json'],
      '.js': scriptLoader,
      '.mjs': scriptLoader,
      '.cjs': scriptLoader,
      '.ts': scriptLoader,
    },
  });
  let dir = start;
  for (;;) {
    const result = await explorer.search(dir);
    if (result) {
      const others = USER_CONFIG_FILES.filter(
        (name) =>
          name !== 'package.json' && join(dir, name) !== result.filepath && existsSync(join(dir, name)),
      );
      if (others.length) {
        throw new ConfigError(
          `two user configs in ${displayPath(dir)}: ${[result.filepath, ...others.map((name) => join(dir, name))].map(displayPath).join(' and ')}; keep one`,
          { location: { file: result.filepath } },
        );
      }
      const config = result.config ?? {};
      if (!isMapping(config)) {
        throw new ConfigError(
          `${displayPath(result.filepath)}: the config must be a mapping of keys, found a ${describeType(config)}`,
          {
            location: { file: result.filepath },
          },
        );
      }
      return { filepath: result.filepath, config };
    }
    const parent = dirname(dir);
    if (dir === root || parent === dir) return null;
    dir = parent;
  }
}
