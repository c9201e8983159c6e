// Chooses and initialises the TensorFlow.js backend: tfjs-node-gpu / tfjs-node (libtensorflow,
// when the user installed one) > wasm (XNNPACK, plus our training kernels) > cpu (pure JS).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { linkedBuild, readManifest } from '../scripts/setup-tensorflow.mjs';
import { measureBackends, type Workload } from './auto.js';
import { BackendError } from './errors.js';
import { registerAllGradients } from './gradients.js';
import { registerTensorflowKernels } from './kernels/tensorflow-kernels.js';
import { registerTrainingGradients } from './kernels/training-gradients.js';
import { nativeKernelsStatus } from './kernels/native.js';
import { registerWasmTrainingKernels } from './kernels/wasm-kernels.js';

/** How the wasm backend's training kernels run here, for the one-line reasons. */
function wasmKernelsLabel(): string {
  const native = nativeKernelsStatus();
  return native.loaded
    ? `@tsnas/backend training kernels (native, ${native.isa})`
    : `@tsnas/backend training kernels (wasm SIMD; native kernels ${native.why})`;
}

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface TensorflowThreadOptions {
  /** Threads one TensorFlow kernel may use (TF_NUM_INTRAOP_THREADS); default: every core. */
  intraOpThreads?: number;
  /** Kernels TensorFlow may run at once (TF_NUM_INTEROP_THREADS); default: TensorFlow's choice. */
  interOpThreads?: number;
}

export interface InitBackendOptions {
  /** Which backend to use; `auto` (default) takes the fastest one available. */
  backend?: BackendChoice;
  /**
   * TensorFlow's thread pools. Read once, when libtensorflow loads (the first initBackend that
   * loads it); later values are ignored and reported in `reason`.
   */
  tensorflow?: TensorflowThreadOptions;
  /**
   * For `auto` with a CPU-only TensorFlow build: the run's work (one forward + backward of its
   * network). `auto` times it on wasm and on tensorflow (once per machine, build and work; cached)
   * and takes the faster: neither wins on every machine and network. Without it, or with a GPU
   * build, `auto` takes tensorflow.
   */
  workload?: Workload;
}

/** A device TensorFlow's runtime sees (from the device lister built with the binding). */
export interface TensorflowDevice {
  /** e.g. /job:localhost/replica:0/task:0/device:GPU:0 */
  name: string;
  /** CPU or GPU */
  type: string;
  memoryBytes: number;
}

export interface BackendInfo {
  /** The tfjs backend now active. */
  name: BackendName;
  /** One line for people: why this backend, e.g. "auto: @tensorflow/tfjs-node not installed; wasm". */
  reason: string;
  /** The npm package that provides it (`@tensorflow/tfjs-node`, `@tensorflow/tfjs-backend-wasm`...). */
  package: string;
  /** tensorflow only: the devices TensorFlow sees, and its version. */
  devices?: TensorflowDevice[];
  tensorflowVersion?: string;
}

/** The optional native packages, fastest first. Both register the tfjs backend 'tensorflow'. */
export const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const TFJS_VERSION = '4.22.0';
const SETUP_HINT = 'npx @tsnas/backend setup-tensorflow (builds its binding against a TensorFlow pip wheel)';
const INSTALL_HINT = `npm install --ignore-scripts @tensorflow/tfjs-node@${TFJS_VERSION}, then ${SETUP_HINT}`;
/** tfjs-node's loader looks for its binding here (node-pre-gyp's module_path for N-API 8). */
const BINDING = path.join('lib', 'napi-v8', 'tfjs_binding.node');

type NativeProbe =
  | { ok: true; pkg: string; dir: string }
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

/** The package folder of a resolved main file (the nearest folder with a package.json). */
function packageDir(resolved: string): string {
  let dir = path.dirname(resolved);
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
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
    const dir = packageDir(resolved);
    if (!existsSync(path.join(dir, BINDING))) {
      failed.push({ pkg, error: `installed, but its native binding is not built: run ${SETUP_HINT}` });
      continue;
    }
    try {
      await quietTensorflowLoad(dir, () => importOptional(resolved));
      if (tf.findBackendFactory('tensorflow') != null) return { ok: true, pkg, dir };
      failed.push({
        pkg,
        error: `loaded but registered no 'tensorflow' backend with the @tensorflow/tfjs-core at ${resolvable('@tensorflow/tfjs-core')}: it uses another copy (install one tfjs-core ${TFJS_VERSION})`,
      });
    } catch (err) {
      failed.push({ pkg, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { ok: false, missing, failed };
}

/**
 * What libtensorflow prints while it loads, before absl logging is initialised (so
 * TF_CPP_MIN_LOG_LEVEL cannot stop it): noise in a CLI whose output people read.
 */
const TENSORFLOW_BANNER = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^I\d{4} [\d:.]+\s+\d+ port\.cc:\d+\] oneDNN custom operations are on\./,
];

/** Set before TensorFlow loads: whether the user chose TensorFlow's log level themselves. */
const userLogLevel = process.env.TF_CPP_MIN_LOG_LEVEL !== undefined;

/**
 * Runs `load` (the first import of tfjs-node, which loads libtensorflow) with file descriptor 2
 * captured by our stderr addon, then passes on every captured line but TensorFlow's banner. Runs it
 * plainly where the user set TF_CPP_MIN_LOG_LEVEL or the addon is not built.
 */
async function quietTensorflowLoad(tfjsNodeDir: string, load: () => Promise<void>): Promise<void> {
  type StderrAddon = { redirect(path: string): number; restore(saved: number): void };
  const addon =
    userLogLevel || tensorflowLoaded ? undefined : loadOwnAddon<StderrAddon>(tfjsNodeDir, 'tsnas_stderr');
  if (addon == null) return load();
  const capture = path.join(mkdtempSync(path.join(tmpdir(), 'tsnas-tf-load-')), 'stderr.log');
  let saved: number;
  try {
    saved = addon.redirect(capture);
  } catch {
    return load(); // no capture file: TensorFlow's banner shows, nothing else changes
  }
  try {
    await load();
    tensorflowLoaded = true;
  } finally {
    addon.restore(saved);
    let text = '';
    try {
      text = readFileSync(capture, 'utf8');
      rmSync(path.dirname(capture), { recursive: true, force: true });
    } catch {
      // nothing was captured
    }
    const kept = text.split('\n').filter((l) => l !== '' && !TENSORFLOW_BANNER.some((re) => re.test(l)));
    if (kept.length > 0) process.stderr.write(`${kept.join('\n')}\n`);
  }
}

let tensorflowLoaded = false;

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

/** 'cpu' or 'gpu' from the linked build's manifest (scripts/setup-tensorflow.mjs). */
function buildVariant(tfjsNodeDir: string): string | undefined {
  const build = linkedBuild(tfjsNodeDir);
  return build == null ? undefined : readManifest(build)?.variant;
}

/**
 * Times wasm against the (already active) CPU tensorflow build at the run's sizes (or reads the
 * cached timing) and activates the faster. Keeps tensorflow when wasm cannot start.
 */
async function autoByMeasurement(
  tensorflow: BackendInfo,
  build: string,
  workload: Workload,
): Promise<BackendInfo> {
  try {
    await initWasm();
  } catch (err) {
    await activate('tensorflow');
    return { ...tensorflow, reason: `auto: ${tensorflow.reason}; wasm failed (${(err as Error).message})` };
  }
  let measuredTiming: Awaited<ReturnType<typeof measureBackends>>;
  try {
    measuredTiming = await measureBackends(build, workload);
  } catch (err) {
    // The work could not run on both (a plug-in's op a worker cannot load, say): no basis to choose.
    await activate('tensorflow');
    const why = (err as Error).message.split('\n')[0];
    return { ...tensorflow, reason: `auto: ${tensorflow.reason} (wasm not timed: ${why})` };
  }
  const { timing, cached } = measuredTiming;
  const measured = `${timing.label}: wasm ${timing.wasm_ms} ms, tensorflow ${timing.tensorflow_ms} ms (${cached ? `measured ${timing.measured_at.slice(0, 10)}, cached` : 'measured now'})`;
  if (timing.wasm_ms < timing.tensorflow_ms) {
    await activate('wasm');
    return {
      name: 'wasm',
      package: '@tensorflow/tfjs-backend-wasm',
      reason: `auto: wasm, faster here than the CPU tensorflow build (${measured}); XNNPACK with ${wasmKernelsLabel()}`,
    };
  }
  await activate('tensorflow');
  return { ...tensorflow, reason: `auto: ${tensorflow.reason}, faster here than wasm (${measured})` };
}

let threadsApplied: string | undefined;

/**
 * Sets TensorFlow's thread pool sizes in the environment it reads when it loads. Returns a note for
 * `reason` (empty when nothing was asked).
 */
function applyTensorflowThreads(opts: TensorflowThreadOptions | undefined): string {
  // TensorFlow's INFO/WARNING lines (oneDNN notices, CPU feature hints) are noise in a CLI.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  const wanted: [env: string, value: number][] = [];
  for (const [key, env] of [
    ['intraOpThreads', 'TF_NUM_INTRAOP_THREADS'],
    ['interOpThreads', 'TF_NUM_INTEROP_THREADS'],
  ] as const) {
    const v = opts?.[key];
    if (v == null || v === 0) continue;
    if (!Number.isInteger(v) || v < 0) {
      throw new BackendError(
        `tensorflow.${key}: expected a whole number >= 0 (0 = TensorFlow's default), got ${String(v)}`,
      );
    }
    wanted.push([env, v]);
  }
  const setting = wanted.map(([env, v]) => `${env}=${v}`).join(' ');
  if (tf.findBackendFactory('tensorflow') != null) {
    // Already loaded: the pools exist. Say so when different threads were asked for.
    return setting && setting !== threadsApplied
      ? `; thread settings ignored, TensorFlow already loaded with ${threadsApplied || 'defaults'}`
      : '';
  }
  for (const [env, v] of wanted) process.env[env] = String(v);
  threadsApplied = setting;
  return setting ? `; ${setting}` : '';
}

/**
 * The devices the linked build's lister reports (undefined when it is not there). Listed once per
 * process: each listing opens a TensorFlow context, and the devices do not change.
 */
function listTensorflowDevices(tfjsNodeDir: string): TensorflowDevice[] | undefined {
  if (!deviceLists.has(tfjsNodeDir)) {
    let devices: TensorflowDevice[] | undefined;
    try {
      devices = devicesAddon(tfjsNodeDir)?.listDevices();
    } catch {
      devices = undefined;
    }
    deviceLists.set(tfjsNodeDir, devices);
  }
  return deviceLists.get(tfjsNodeDir);
}

const deviceLists = new Map<string, TensorflowDevice[] | undefined>();

function tensorflowVersion(tfjsNodeDir: string): string | undefined {
  return devicesAddon(tfjsNodeDir)?.tensorflowVersion;
}

type DevicesAddon = { listDevices(): TensorflowDevice[]; tensorflowVersion: string };
const devicesAddons = new Map<string, DevicesAddon | undefined>();

function devicesAddon(tfjsNodeDir: string): DevicesAddon | undefined {
  if (!devicesAddons.has(tfjsNodeDir))
    devicesAddons.set(tfjsNodeDir, loadOwnAddon<DevicesAddon>(tfjsNodeDir, 'tsnas_tf_devices'));
  return devicesAddons.get(tfjsNodeDir);
}

/** One of our addons in that build (native/), or undefined where the build has none. */
function loadOwnAddon<T>(tfjsNodeDir: string, name: string): T | undefined {
  // setup-tensorflow links tfjs-node's deps/ into the cached build; our addons sit in that build.
  const build = linkedBuild(tfjsNodeDir);
  if (build == null) return undefined;
  try {
    return createRequire(import.meta.url)(path.join(build, 'lib', 'napi-v8', `${name}.node`)) as T;
  } catch {
    return undefined;
  }
}

/**
 * Selects, initialises and activates a tfjs backend, and installs the training kernels and
 * gradients tsnas needs. Safe to call more than once.
 *
 * - `tensorflow`: @tensorflow/tfjs-node-gpu, else @tensorflow/tfjs-node (optional peers); a
 *   BackendError (exitCode 2) with the install command when neither is installed.
 * - `wasm`: XNNPACK through WebAssembly (single-threaded in Node), with our gradient kernels.
 * - `cpu`: the pure-JavaScript reference backend.
 * - `auto` (default): tensorflow if built (with a CPU-only build and a `workload`: the faster of
 *   tensorflow and wasm, measured), else wasm, else cpu.
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
    const threads = applyTensorflowThreads(options.tensorflow);
    let probe = await probeNative();
    if (probe.ok) {
      try {
        await activate('tensorflow');
      } catch (err) {
        if (choice === 'tensorflow') throw err;
        // auto: a backend that loads but cannot start is reported, and wasm takes over.
        probe = { ok: false, missing: [], failed: [{ pkg: probe.pkg, error: (err as Error).message }] };
      }
    }
    if (probe.ok) {
      // tfjs-node's @tensorflow/tfjs registered tfjs's gradients over ours; put ours back.
      registerTrainingGradients();
      registerTensorflowKernels();
      const devices = listTensorflowDevices(probe.dir);
      const where =
        devices?.map((d) => `${d.type}:${d.name.split(':').pop()}`).join(', ') ?? 'devices unknown';
      const version = tensorflowVersion(probe.dir);
      const info: BackendInfo = {
        name: 'tensorflow',
        package: probe.pkg,
        reason: `${probe.pkg} on TensorFlow ${version ?? '?'} (${where}${threads})`,
        ...(devices ? { devices } : {}),
        ...(version ? { tensorflowVersion: version } : {}),
      };
      const variant = buildVariant(probe.dir);
      if (choice === 'tensorflow') return info;
      if (variant !== 'cpu' || options.workload == null) {
        return { ...info, reason: `auto: ${info.reason}${variant === 'gpu' ? '; GPU build' : ''}` };
      }
      return autoByMeasurement(
        info,
        `TensorFlow ${version ?? '?'} ${variant} build${threads}`,
        options.workload,
      );
    }
    if (choice === 'tensorflow') {
      throw new BackendError(
        `backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu with a built binding: ${describeProbe(probe)}${probe.failed.length === 0 ? `. Install it with: ${INSTALL_HINT}` : ''}`,
      );
    }
    const why = describeProbe(probe);
    try {
      await initWasm();
      return {
        name: 'wasm',
        package: '@tensorflow/tfjs-backend-wasm',
        reason: `auto: ${why}; using wasm (XNNPACK, 1 thread) with ${wasmKernelsLabel()}`,
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
      reason: `requested: wasm (XNNPACK, 1 thread) with ${wasmKernelsLabel()}`,
    };
  }
  await activate('cpu');
  return {
    name: 'cpu',
    package: '@tensorflow/tfjs-backend-cpu',
    reason: 'requested: cpu (pure JavaScript, slow)',
  };
}
