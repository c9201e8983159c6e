import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { DatasetError } from './errors.js';
import type { DatasetOrigin, Split } from './types.js';

/** Where a file-backed dataset lives and how a user gets it. */
export interface StorageSpec {
  /** Sub-folders of a data root that may hold the files, in the order tried. */
  dirNames: string[];
  /** File names each split needs; each may also be stored gzipped as `<name>.gz`. */
  files: Record<Split, string[]>;
  /** One or two sentences on how to obtain the dataset (package name, official URL). */
  howToGet: string;
  /** A folder shipped inside this package, tried last. */
  embedded?: string;
}

export interface ResolveOptions {
  /** An explicit data root (`--dataroot`, or `dataset.dataroot` in the config). */
  dataroot?: string;
  /** Environment to read `TSNAS_DATAROOT` and `XDG_CACHE_HOME` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Home folder for the user cache (default `os.homedir()`). */
  homeDir?: string;
  /** System dataset folders (default `/usr/share/datasets`, `/usr/local/share/datasets`). */
  systemDirs?: string[];
  /** Fall back to the copy shipped in the package, where there is one (default true). */
  allowEmbedded?: boolean;
  /**
   * Use the copy shipped in the package and nothing else, so a run sees the same data on every
   * machine (config: `dataset.embedded: true`).
   */
  useEmbedded?: boolean;
}

export interface ResolvedDataset {
  /** The folder holding the dataset's files. */
  dir: string;
  origin: DatasetOrigin;
}

/** A data root tried during resolution: where it came from and the folders looked in. */
export interface LookedPlace {
  origin: DatasetOrigin;
  label: string;
  /** Folders checked; empty when the root was not configured. */
  dirs: string[];
  note?: string;
}

export const DEFAULT_SYSTEM_DIRS = ['/usr/share/datasets', '/usr/local/share/datasets'];
export const DATAROOT_ENV = 'TSNAS_DATAROOT';

/** The user cache root: `$XDG_CACHE_HOME/tsnas/datasets`, else `~/.cache/tsnas/datasets`. */
export function cacheDataroot(opts: Pick<ResolveOptions, 'env' | 'homeDir'> = {}): string {
  const env = opts.env ?? process.env;
  const base = env.XDG_CACHE_HOME || join(opts.homeDir ?? homedir(), '.cache');
  return join(base, 'tsnas', 'datasets');
}

/** `dir/name` or `dir/name.gz`, whichever exists (plain first); null if neither. */
export function findDataFile(dir: string, name: string): string | null {
  for (const candidate of [join(dir, name), join(dir, `${name}.gz`)]) {
    if (isFile(candidate)) return candidate;
  }
  return null;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function holdsAll(dir: string, storage: StorageSpec): boolean {
  if (!existsSync(dir)) return false;
  return [...storage.files.train, ...storage.files.test].every((f) => findDataFile(dir, f) !== null);
}

function candidates(root: string, storage: StorageSpec): string[] {
  // The root itself comes last so `--dataroot` may also point straight at the dataset folder.
  return [...storage.dirNames.map((d) => join(root, d)), root];
}

/**
 * Finds a dataset's folder: the explicit data root, then `$TSNAS_DATAROOT`, then the user cache,
 * then the system dataset folders (Debian's `dataset-*` packages), then the copy embedded in this
 * package. Throws one DatasetError (exitCode 2) listing every folder looked in and how to get the
 * dataset when none holds all its files.
 */
export function resolveStorage(
  name: string,
  storage: StorageSpec,
  opts: ResolveOptions = {},
): ResolvedDataset {
  const env = opts.env ?? process.env;
  if (opts.useEmbedded) {
    if (storage.embedded && holdsAll(storage.embedded, storage))
      return { dir: storage.embedded, origin: 'embedded' };
    throw new DatasetError(
      'E_NOT_FOUND',
      storage.embedded
        ? `The embedded copy of dataset '${name}' is missing or incomplete in ${storage.embedded}; reinstall @tsnas/datasets.`
        : `Dataset '${name}' has no embedded copy; drop \`embedded: true\` and give a data root.`,
    );
  }
  const looked: LookedPlace[] = [];
  const roots: { origin: DatasetOrigin; label: string; root: string | undefined; note: string }[] = [
    { origin: 'dataroot', label: '--dataroot', root: opts.dataroot || undefined, note: 'not given' },
    { origin: 'env', label: `$${DATAROOT_ENV}`, root: env[DATAROOT_ENV] || undefined, note: 'not set' },
    { origin: 'cache', label: 'user cache', root: cacheDataroot({ env, homeDir: opts.homeDir }), note: '' },
    ...(opts.systemDirs ?? DEFAULT_SYSTEM_DIRS).map((root) => ({
      origin: 'system' as const,
      label: 'system',
      root,
      note: '',
    })),
  ];
  for (const { origin, label, root, note } of roots) {
    if (root === undefined) {
      looked.push({ origin, label, dirs: [], note });
      continue;
    }
    const dirs = candidates(resolvePath(root), storage);
    looked.push({ origin, label, dirs });
    const hit = dirs.find((d) => holdsAll(d, storage));
    if (hit) return { dir: hit, origin };
  }
  if (storage.embedded && opts.allowEmbedded !== false) {
    looked.push({ origin: 'embedded', label: 'embedded sample', dirs: [storage.embedded] });
    if (holdsAll(storage.embedded, storage)) return { dir: storage.embedded, origin: 'embedded' };
  }
  throw new DatasetError('E_NOT_FOUND', notFoundMessage(name, storage, looked));
}

function notFoundMessage(name: string, storage: StorageSpec, looked: LookedPlace[]): string {
  const lines = [`Dataset '${name}' was not found. Looked in:`];
  for (const place of looked) {
    if (place.dirs.length === 0) lines.push(`  - ${place.label}: ${place.note}`);
    else lines.push(`  - ${place.label}: ${place.dirs.join(', ')}`);
  }
  const all = [...storage.files.train, ...storage.files.test];
  lines.push(`A folder must hold all of: ${all.join(', ')} (each may be gzipped, with .gz added).`);
  lines.push(`To get it: ${storage.howToGet}`);
  lines.push(
    `Then pass --dataroot DIR, set ${DATAROOT_ENV}=DIR, or put it under ${looked.find((p) => p.origin === 'cache')?.dirs.at(-1) ?? '~/.cache/tsnas/datasets'}.`,
  );
  return lines.join('\n');
}
