// Internal: loads JS/TS configs through cosmiconfig's loaders (ESM and CJS; TS is transpiled with
// the `typescript` package, an optional peer dependency, because Node 20 cannot run .ts itself).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { defaultLoaders, type Loader } from 'cosmiconfig';
import { ConfigError } from '../errors.js';
import { displayPath } from '../sourceMap.js';

export const SCRIPT_EXTENSIONS = new Set(['.js', '.mjs', '.cjs', '.ts']);

function isMissingTypescript(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    /typescript/.test(e.message ?? '')
  );
}

/** Runs a JS/TS config file and returns its default export. */
export async function loadScriptConfig(file: string, content?: string): Promise<unknown> {
  const ext = extname(file);
  const loader = (defaultLoaders as Record<string, Loader>)[ext];
  if (!loader)
    throw new ConfigError(`${displayPath(file)}: no loader for ${ext} files`, { location: { file } });
  try {
    return await loader(file, content ?? (await readFile(file, 'utf8')));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (ext === '.ts' && isMissingTypescript(error)) {
      throw new ConfigError(
        `${displayPath(file)}: a .ts config needs the 'typescript' package (npm i -D typescript), because Node 20 cannot run TypeScript; or write the config as nas.config.yaml, .json, .js or .mjs`,
        { location: { file }, cause: error },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw new ConfigError(`${displayPath(file)}: the config failed to load: ${message}`, {
      location: { file },
      cause: error,
    });
  }
}
