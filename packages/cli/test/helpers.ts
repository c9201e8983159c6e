// What the tests of the built binary share: where it is, the tiny profile, and running it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'dist', 'bin.js');
export const TINY = join(here, 'tiny.yaml');

/** Runs `nas ARGS` (dist/bin.js) in `cwd` and returns its exit code and output. */
export function nas(args: string[], cwd = here) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

/** The JSON lines of a `--json` run's stdout. */
export const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
