// The layers of a run's profile, later ones winning: the shared base, the dataset, the algorithm's
// profile (default, --full or --toy), the user's nas.config.* (found by cosmiconfig), --config
// files, then key.path=value overrides.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findUserConfig, type LoadedConfig, loadConfig, tsnasProfileSchema } from '@tsnas/config';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './errors.js';
import type { AlgoPlugin } from './plugin.js';

export type ProfileKind = 'default' | 'full' | 'toy';

const CONFIG_DIR = new URL('../configs/', import.meta.url);

export const BASE_PROFILE = fileURLToPath(new URL('base.yaml', CONFIG_DIR));

export function datasetProfile(name: string): string | null {
  const f = fileURLToPath(new URL(`datasets/${name}.yaml`, CONFIG_DIR));
  return existsSync(f) ? f : null;
}

function toPath(u: URL | string): string {
  return u instanceof URL ? fileURLToPath(u) : u;
}

export function algoProfile(algo: AlgoPlugin, kind: ProfileKind): string {
  const u = kind === 'full' ? algo.fullConfig : kind === 'toy' ? algo.toyConfig : algo.config;
  if (!u) throw new UsageError(`algorithm '${algo.name}' has no --${kind} profile`);
  return toPath(u);
}

/** `dataset.name` as written in a profile file, without loading it fully. */
function datasetNameIn(file: string): string | undefined {
  try {
    const doc = parseYaml(readFileSync(file, 'utf8')) as any;
    return typeof doc?.dataset?.name === 'string' ? doc.dataset.name : undefined;
  } catch {
    return undefined; // the real load reports the syntax error with its line
  }
}

export interface RunConfigOptions {
  algo: AlgoPlugin;
  profile: ProfileKind;
  dataset?: string;
  configFiles: string[];
  overrides: string[];
  cwd: string;
  /** Skip the search for nas.config.* (tests). */
  noUserConfig?: boolean;
}

export async function loadRunConfig(
  opts: RunConfigOptions,
): Promise<LoadedConfig & { userConfig: string | null }> {
  const algoFile = algoProfile(opts.algo, opts.profile);
  const user = opts.noUserConfig ? null : await findUserConfig(opts.cwd);
  const userFiles = user ? [user.filepath] : [];
  const later = [algoFile, ...userFiles, ...opts.configFiles];
  const fromOverride = opts.overrides.find((o) => o.startsWith('dataset.name='))?.split('=')[1];
  const dataset =
    opts.dataset ??
    fromOverride ??
    [...later]
      .reverse()
      .map(datasetNameIn)
      .find((n) => n !== undefined) ??
    'fashion_mnist';
  const dsFile = datasetProfile(dataset);
  const files = [BASE_PROFILE, ...(dsFile ? [dsFile] : []), ...later];
  const overrides = [...(opts.dataset ? [`dataset.name=${opts.dataset}`] : []), ...opts.overrides];
  const loaded = await loadConfig(files, { overrides, cwd: opts.cwd, schema: tsnasProfileSchema });
  return Object.assign(loaded, { userConfig: user?.filepath ?? null });
}
