import { homedir } from 'node:os';
import { ConfigError } from './errors.js';

export interface ExpandPathOptions {
  /** Named in the error when a variable is unknown. */
  keyPath?: string;
  /** `'error'` (default) throws on an unknown variable; `'keep'` leaves `$name` as written, like Python. */
  onMissing?: 'error' | 'keep';
  /** Looked up after `vars`; defaults to `process.env`. */
  env?: Record<string, string | undefined>;
}

const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Archai's `utils.full_path` minus `abspath`: `~` or `~/…` at the start becomes the home folder,
 * `$name` and `${name}` take their value from `vars`, then from the environment. Profiles keep
 * `$expdir/...` as written; call this when a value is used, once the run knows its folders.
 * An unknown variable is an error by default, because a literal `$expdir` folder is never wanted.
 */
export function expandPath(
  str: string,
  vars: Record<string, string | number | undefined> = {},
  options: ExpandPathOptions = {},
): string {
  const env = options.env ?? process.env;
  // Python's order: expanduser first, then expandvars.
  const withHome = str === '~' || str.startsWith('~/') ? homedir() + str.slice(1) : str;
  return withHome.replace(VARIABLE, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = Object.hasOwn(vars, name) && vars[name] !== undefined ? String(vars[name]) : env[name];
    if (value !== undefined) return value;
    if (options.onMissing === 'keep') return whole;
    const where = options.keyPath ? `${options.keyPath}: ` : '';
    const known = Object.keys(vars).filter((key) => vars[key] !== undefined);
    throw new ConfigError(
      `${where}unknown variable ${whole} in '${str}'; set it in the environment` +
        (known.length ? ` or use one of: ${known.map((key) => `$${key}`).join(', ')}` : ''),
      { keyPath: options.keyPath },
    );
  });
}
