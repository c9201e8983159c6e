// Builds tsnas's native CPU kernels (native/kernels/cpu_kernels.c) with node-gyp against Node's
// installed headers: a C compiler, make and Python are all it needs (seconds; no download). The
// wasm backend uses them when the build loads (src/kernels/native.ts) and its SIMD module without.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeDir, findNodeGyp, SetupError } from './setup-tensorflow.mjs';

const packageRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
export const kernelsSource = path.join(packageRoot, 'native', 'kernels');
export const kernelsAddon = path.join(kernelsSource, 'build', 'Release', 'tsnas_cpu_kernels.node');

function tool(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.status === 0;
}

/** What a build needs and this machine lacks, one entry per missing tool. */
export function kernelPrerequisites(env = process.env) {
  const missing = [];
  if (!tool(env.CC || 'cc', ['--version'])) missing.push(`a C compiler (${env.CC || 'cc'})`);
  if (!tool('make', ['--version'])) missing.push('make');
  if (!tool(env.TSNAS_PYTHON || 'python3', ['--version'])) missing.push('python3 (node-gyp runs on it)');
  if (findNodeGyp() == null) missing.push('node-gyp');
  if (findNodeDir() == null)
    missing.push(`Node's headers (include/node/node_api.h next to ${process.execPath}; set TSNAS_NODEDIR)`);
  return missing;
}

/**
 * Compiles the addon and loads it in a child process. Returns { path, isa, seconds }; throws a
 * SetupError naming the missing tool or the compiler's last lines.
 */
export function buildKernels({ env = process.env } = {}) {
  const missing = kernelPrerequisites(env);
  if (missing.length > 0)
    throw new SetupError(`cannot build the native kernels: missing ${missing.join(', ')}`);
  const started = Date.now();
  const build = spawnSync(
    process.execPath,
    [
      findNodeGyp(),
      'rebuild',
      `--nodedir=${findNodeDir()}`,
      ...(env.TSNAS_PYTHON ? [`--python=${env.TSNAS_PYTHON}`] : []),
    ],
    { cwd: kernelsSource, env: { ...env, npm_config_loglevel: 'error' }, encoding: 'utf8' },
  );
  if (build.status !== 0) {
    const tail = `${build.stdout ?? ''}${build.stderr ?? ''}`.trim().split('\n').slice(-12).join('\n');
    throw new SetupError(`node-gyp failed in ${kernelsSource}:\n${tail || build.error?.message}`);
  }
  // Loaded in a child: an addon that cannot run here fails there, and is removed.
  const check = spawnSync(
    process.execPath,
    ['-e', `console.log(require(${JSON.stringify(kernelsAddon)}).vector_width())`],
    { encoding: 'utf8' },
  );
  if (check.status !== 0) {
    rmSync(kernelsAddon, { force: true });
    const why =
      `${check.stderr ?? ''}`.trim().split('\n').slice(-2).join(' ') ||
      `exit ${check.status ?? check.signal}`;
    throw new SetupError(`the built kernels do not load on this machine (${why}); removed`);
  }
  return { path: kernelsAddon, isa: check.stdout.trim(), seconds: (Date.now() - started) / 1000 };
}

/** Whether a build is in place (it may be stale after an edit of cpu_kernels.c: rebuild then). */
export function kernelsBuilt() {
  return existsSync(kernelsAddon);
}
