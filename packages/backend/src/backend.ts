// Chooses and initialises the TensorFlow.js backend: tfjs-node-gpu / tfjs-node (libtensorflow,
// when the user installed one) > wasm (XNNPACK, plus our training kernels) > cpu (pure JS).
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from './errors.js';
import { registerAllGradients } from './gradients.js';
import { registerTrainingGradients } from './kernels/training-gradients.js';
import { registerWasmTrainingKernels } from './kernels/wasm-kernels.js';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface InitBackendOptions {
  /** Which backend to use; `auto` (default) takes the fastest one available. */
  backend?: BackendChoice;
}

export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** One line for people: why this backend, e.g. "auto: @tensorflow/tfjs-node not installed; wasm". */
  reason: string;
  /** The npm package that provides it (`@tensorflow/tfjs-node`, `@tensorflow/tfjs-backend-wasm`...). */
  package: string;
}

/** The optional native packages, fastest first. Both register the tfjs backend 'tensorflow'. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const TFJS_VERSION = '4.22.0';
const INSTALL_HINT = `pnpm add @tensorflow/tfjs-node@${TFJS_VERSION} (or @tensorflow/tfjs-node-gpu@${TFJS_VERSION} with CUDA)`;

type NativeProbe =
  | { ok: true; pkg: string }
  | { ok: false; missing: string[]; failed: { pkg: string; error: string }[] };

/** Whether a package can be resolved from this package or from the working directory. */
function resolvable(pkg: string): string | undefined {
  for (const base of [import.meta.url, pathToFileURL(path.join(process.cwd(), 'noop.js')).href]) {
    try {
      return createRequire(base).resolve(pkg);
    } catch {
      // not resolvable from here
    }
  }
  return undefined;
}

/** Imports an installed optional package (failures mean "installed but broken"). */
async function importOptional(resolved: string): Promise<void> {
  await import(pathToFileURL(resolved).href);
}

async function probeNative(): Promise<NativeProbe> {
  const missing: string[] = [];
  const failed: { pkg: string; error: string }[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    const resolved = resolvable(pkg);
    if (resolved == null) {
      missing.push(pkg);
      continue;
    }
    try {
      await importOptional(resolved);
      if (tf.findBackendFactory('tensorflow') != null) return { ok: true, pkg };
      failed.push({ pkg, error: "loaded but registered no 'tensorflow' backend" });
    } catch (err) {
      failed.push({ pkg, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { ok: false, missing, failed };
}

function describeProbe(p: Extract<NativeProbe, { ok: false }>): string {
  const parts = [
    ...p.missing.map((m) => `${m} not installed`),
    ...p.failed.map((f) => `${f.pkg} failed to load (${f.error.split('\n')[0]})`),
  ];
  return parts.join(', ');
}

/** The folder holding tfjs-backend-wasm's .wasm binaries, found from wherever this file lives. */
export function wasmBinariesDir(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkgJson), 'dist') + path.sep;
}

/**
 * The cpu backend prints an advert for tfjs-node when it starts in Node; tsnas already says which
 * backend it took and why, so that one message is dropped (every other warning passes through).
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (
      typeof args[0] === 'string' &&
      args[0].includes('looks like you are running TensorFlow.js in Node.js')
    )
      return;
    warn(...args);
  };
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

async function activate(name: BackendName): Promise<void> {
  let ok: boolean;
  try {
    ok = await quietly(() => tf.setBackend(name));
  } catch (err) {
    throw new BackendError(`backend '${name}' failed to initialise: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!ok || tf.getBackend() !== name) {
    throw new BackendError(`backend '${name}' failed to initialise (tf.setBackend returned false)`);
  }
  await tf.ready();
}

async function initWasm(): Promise<void> {
  // setWasmPaths must precede the backend's first initialisation and throws after it.
  if (tf.findBackend('wasm') == null) {
    setWasmPaths(wasmBinariesDir());
  }
  registerWasmTrainingKernels();
  await activate('wasm');
}

/**
 * Selects, initialises and activates a tfjs backend, and installs the training kernels and
 * gradients tsnas needs. Safe to call more than once.
 *
 * - `tensorflow`: @tensorflow/tfjs-node-gpu, else @tensorflow/tfjs-node (optional peers); a
 *   BackendError (exitCode 2) with the install command when neither is installed.
 * - `wasm`: XNNPACK through WebAssembly (single-threaded in Node), with our gradient kernels.
 * - `cpu`: the pure-JavaScript reference backend.
 * - `auto` (default): tensorflow if importable, else wasm, else cpu.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const choice = options.backend ?? 'auto';
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new BackendError(`backend: expected one of ${BACKEND_CHOICES.join(', ')}, got '${String(choice)}'`);
  }
  // tfjs's gradients first, then our replacement for DepthwiseConv2dNative's on top of them.
  await registerAllGradients();
  registerTrainingGradients();

  if (choice === 'tensorflow' || choice === 'auto') {
    const probe = await probeNative();
    if (probe.ok) {
      await activate('tensorflow');
      return {
        name: 'tensorflow',
        package: probe.pkg,
        reason: `${choice === 'auto' ? 'auto: ' : ''}${probe.pkg} (libtensorflow)`,
      };
    }
    if (choice === 'tensorflow') {
      throw new BackendError(
        `backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu: ${describeProbe(probe)}. Install one with: ${INSTALL_HINT}`,
      );
    }
    const why = describeProbe(probe);
    try {
      await initWasm();
      return {
        name: 'wasm',
        package: '@tensorflow/tfjs-backend-wasm',
        reason: `auto: ${why}; using wasm (XNNPACK, 1 thread) with @tsnas/backend training kernels`,
      };
    } catch (err) {
      await activate('cpu');
      return {
        name: 'cpu',
        package: '@tensorflow/tfjs-backend-cpu',
        reason: `auto: ${why}; wasm failed (${(err as Error).message}); using the pure-JS cpu backend`,
      };
    }
  }
  if (choice === 'wasm') {
    await initWasm();
    return {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      reason: 'requested: wasm (XNNPACK, 1 thread) with @tsnas/backend training kernels',
    };
  }
  await activate('cpu');
  return {
    name: 'cpu',
    package: '@tensorflow/tfjs-backend-cpu',
    reason: 'requested: cpu (pure JavaScript, slow)',
  };
}
