// Builds tfjs-node's native binding against the libtensorflow inside a TensorFlow pip wheel.
//
// @tensorflow/tfjs-node's own installer downloads libtensorflow from Google's storage, which now
// refuses it (tensorflow/tfjs#8742). Every TensorFlow wheel carries the same C and eager C APIs
// (`tensorflow/libtensorflow_cc.so.2`, `libtensorflow_framework.so.2`, `tensorflow/include/`), so:
//   1. get the wheel: $TSNAS_TENSORFLOW_WHEEL, or `pip download tensorflow-cpu==VERSION --no-deps`
//      (`tensorflow==VERSION` plus its `and-cuda` wheels for --gpu);
//   2. extract the two libraries (under their SONAMEs, plus the link-time names) and the C headers;
//   3. compile tfjs-node's binding.gyp with node-gyp against Node's installed headers, and our small
//      addons (native/: a device lister, and a stderr capture for TensorFlow's load-time banner);
//   4. keep all of it in a cache folder keyed by TensorFlow version, variant and platform, and link
//      it into the installed @tensorflow/tfjs-node package (deps/ and lib/napi-v8/, where its
//      loader looks). A second run finds the cache and only re-links.
// Plain Node (no build step, no dependencies), so the workspace's postinstall can run it.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.join(here, '..');

/** The TensorFlow release whose wheel we build against; checked with tfjs-node 4.22's binding. */
export const DEFAULT_TENSORFLOW_VERSION = '2.21.0';
/** tfjs-node's loader looks for lib/napi-v{N}/tfjs_binding.node; 8 is the newest it lists. */
const NAPI_VERSION = 8;

export class SetupError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'SetupError';
    this.exitCode = 2;
  }
}

/** Where built backends are kept: $TSNAS_CACHE_DIR, else $XDG_CACHE_HOME/tsnas, else ~/.cache/tsnas. */
export function cacheRoot(env = process.env) {
  if (env.TSNAS_CACHE_DIR) return path.resolve(env.TSNAS_CACHE_DIR);
  const xdg = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.resolve(xdg, 'tsnas');
}

/** The folder one build lives in: variant, TensorFlow version, tfjs-node version, platform. */
export function buildKey({ variant, version, tfjsNodeVersion }) {
  return `${variant}-${version}-tfjs-node-${tfjsNodeVersion}-napi${NAPI_VERSION}-${process.platform}-${process.arch}`;
}

/** The installed @tensorflow/tfjs-node package folder (from this package, then the working dir). */
export function findTfjsNode() {
  for (const base of [path.join(packageRoot, 'package.json'), path.join(process.cwd(), 'noop.js')]) {
    try {
      return path.dirname(createRequire(base).resolve('@tensorflow/tfjs-node/package.json'));
    } catch {
      // not resolvable from here
    }
  }
  return undefined;
}

/** node-gyp's CLI: our own dev dependency, else the copy every npm ships with. */
export function findNodeGyp() {
  try {
    return createRequire(path.join(packageRoot, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const candidates = [
      path.join(
        path.dirname(process.execPath),
        '..',
        'lib',
        'node_modules',
        'npm',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
      process.env.npm_config_node_gyp,
    ].filter(Boolean);
    return candidates.find((c) => existsSync(c));
  }
}

/** Node's installed headers (node-gyp would otherwise download them). */
export function findNodeDir() {
  const candidates = [process.env.TSNAS_NODEDIR, path.resolve(process.execPath, '..', '..')].filter(Boolean);
  return candidates.find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

function run(cmd, args, { cwd, quiet = false, env } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env: env ?? process.env,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
  });
  if (r.error) return { ok: false, output: r.error.message };
  return {
    ok: r.status === 0,
    stdout: r.stdout ?? '',
    output: `${r.stdout ?? ''}${r.stderr ?? ''}`,
    status: r.status,
    signal: r.signal,
  };
}

function python(env) {
  return env.TSNAS_PYTHON || 'python3';
}

/** Checks the tools a build needs and says which one is missing. */
export function checkPrerequisites(env = process.env, { needPip = true } = {}) {
  const missing = [];
  if (needPip) {
    const pip = run(python(env), ['-m', 'pip', '--version'], { quiet: true });
    if (!pip.ok) missing.push(`pip (${python(env)} -m pip --version failed)`);
  } else if (!run(python(env), ['--version'], { quiet: true }).ok) {
    missing.push(`${python(env)} (to read the wheel)`);
  }
  if (!run(env.CXX || 'c++', ['--version'], { quiet: true }).ok) missing.push('a C++ compiler (c++)');
  if (!run('make', ['--version'], { quiet: true }).ok) missing.push('make');
  if (findNodeGyp() == null) missing.push('node-gyp');
  if (findNodeDir() == null)
    missing.push(`Node's headers (include/node/node_api.h next to ${process.execPath}; set TSNAS_NODEDIR)`);
  return missing;
}

function log(msg) {
  process.stderr.write(`tsnas: ${msg}\n`);
}

/** pip download of the wheel(s): progress goes to the terminal. Returns the wheel paths. */
function downloadWheels({ variant, version, dir, env }) {
  const name = variant === 'gpu' ? 'tensorflow' : 'tensorflow-cpu';
  log(`downloading ${name}==${version} with pip (about ${variant === 'gpu' ? '600' : '270'} MB)...`);
  const args = [
    '-m',
    'pip',
    'download',
    `${name}==${version}`,
    '--no-deps',
    '--only-binary=:all:',
    '--progress-bar',
    'on',
    '-d',
    dir,
  ];
  // pip's progress bar where someone watches a terminal; elsewhere (the workspace's postinstall,
  // CI logs) its output is held and only its error is reported, on our one line.
  const watched = process.stderr.isTTY === true && env.TSNAS_SETUP_QUIET !== '1';
  const started = Date.now();
  const r = run(python(env), args, { quiet: !watched });
  if (!r.ok) {
    // pip colours its errors; the message is for a log line.
    const why = stripVTControlCharacters(r.output)
      .split('\n')
      .filter((l) => /ERROR/.test(l))
      .at(-1)
      ?.trim();
    throw new SetupError(
      `pip download ${name}==${version} failed (exit ${r.status}${why ? `: ${why}` : ''}); set TSNAS_TENSORFLOW_WHEEL to a wheel file to skip the download`,
    );
  }
  if (!watched) log(`downloaded ${name}==${version} in ${Math.round((Date.now() - started) / 1000)} s`);
  const wheels = readdirSync(dir)
    .filter((f) => f.endsWith('.whl'))
    .map((f) => path.join(dir, f));
  const tfWheel = wheels.find((w) => path.basename(w).startsWith(name.replace('-', '_')));
  if (tfWheel == null) throw new SetupError(`pip download ${name}==${version} left no wheel in ${dir}`);
  const cuda = variant === 'gpu' ? downloadCudaWheels({ tfWheel, dir, env }) : [];
  return { tfWheel, cuda };
}

/** The `and-cuda` extra of the GPU wheel: NVIDIA's CUDA runtime wheels (cuDNN, cuBLAS, ...). */
function downloadCudaWheels({ tfWheel, dir, env }) {
  const meta = run(python(env), ['-c', PY_CUDA_REQUIREMENTS, tfWheel], { quiet: true });
  if (!meta.ok)
    throw new SetupError(`could not read the CUDA requirements of ${tfWheel}: ${meta.output.trim()}`);
  const reqs = meta.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (reqs.length === 0) return [];
  log(`downloading the CUDA libraries TensorFlow names (${reqs.length} wheels, several GB)...`);
  const cudaDir = path.join(dir, 'cuda');
  const r = run(python(env), [
    '-m',
    'pip',
    'download',
    ...reqs,
    '--no-deps',
    '--only-binary=:all:',
    '--progress-bar',
    'on',
    '-d',
    cudaDir,
  ]);
  if (!r.ok) throw new SetupError(`pip download of the CUDA wheels failed (${reqs.join(' ')})`);
  return readdirSync(cudaDir)
    .filter((f) => f.endsWith('.whl'))
    .map((f) => path.join(cudaDir, f));
}

// Requirements of a wheel marked `extra == "and-cuda"`, one per line (markers dropped).
const PY_CUDA_REQUIREMENTS = `
import sys, zipfile, re
z = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
for line in z.read(meta).decode().splitlines():
    if line.startswith('Requires-Dist:') and 'and-cuda' in line:
        print(re.split(r'\\s*;', line.split(':', 1)[1].strip())[0].replace(' ', ''))
`;

// Extracts the libraries and C headers tfjs-node's binding needs from a TensorFlow wheel, and the
// shared libraries of CUDA wheels into nvidia/<name>/lib (the layout the GPU wheel's RUNPATHs name).
const PY_EXTRACT = `
import sys, zipfile, os, shutil
wheel, deps = sys.argv[1], sys.argv[2]
libs = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2')
headers = ('tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
           'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/')
z = zipfile.ZipFile(wheel)
found = 0
for info in z.infolist():
    name = info.filename
    if name.endswith('/'):
        continue
    if name in libs:
        dest = os.path.join(deps, 'lib', os.path.basename(name)); found += 1
    elif name.startswith(headers):
        dest = os.path.join(deps, 'include', name[len('tensorflow/include/'):])
    elif name.startswith('nvidia/') and '/lib/' in name and '.so' in name:
        dest = os.path.join(deps, name)  # deps/nvidia/<lib>/lib/...
    else:
        continue
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with z.open(info) as src, open(dest, 'wb') as out:
        shutil.copyfileobj(src, out, 1 << 20)
    if name in libs or name.startswith('nvidia/'):
        os.chmod(dest, 0o755)
print(found)
`;

function extractWheel(wheel, deps, env, { expectLibraries }) {
  const r = run(python(env), ['-c', PY_EXTRACT, wheel, deps], { quiet: true });
  if (!r.ok) throw new SetupError(`could not extract ${wheel}: ${r.output.trim().split('\n').pop()}`);
  if (expectLibraries && Number.parseInt(r.stdout.trim(), 10) !== 2) {
    throw new SetupError(
      `${wheel} holds no tensorflow/libtensorflow_cc.so.2 and libtensorflow_framework.so.2: is it a TensorFlow wheel?`,
    );
  }
}

function linkLibraries(libDir) {
  // The binding links -ltensorflow -ltensorflow_framework; at run time it needs the SONAMEs.
  for (const [link, target] of [
    ['libtensorflow.so', 'libtensorflow_cc.so.2'],
    ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
    ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
  ]) {
    const p = path.join(libDir, link);
    rmSync(p, { force: true });
    symlinkSync(target, p);
  }
}

function nodeGyp(dir, extraArgs, env) {
  const gyp = findNodeGyp();
  const nodedir = findNodeDir();
  const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, ...extraArgs];
  const r = run(process.execPath, args, {
    cwd: dir,
    quiet: true,
    env: { ...env, npm_config_loglevel: 'error' },
  });
  if (!r.ok) {
    const tail = r.output.trim().split('\n').slice(-15).join('\n');
    throw new SetupError(`node-gyp failed in ${dir}:\n${tail}`);
  }
}

/** Compiles tfjs-node's binding and our device lister against deps/. */
function buildAddons({ tfjsNodeDir, staging, env }) {
  const bindingSrc = path.join(staging, 'build-binding');
  mkdirSync(bindingSrc, { recursive: true });
  cpSync(path.join(tfjsNodeDir, 'binding'), path.join(bindingSrc, 'binding'), { recursive: true });
  cpSync(path.join(tfjsNodeDir, 'binding.gyp'), path.join(bindingSrc, 'binding.gyp'));
  symlinkSync(path.join(staging, 'deps'), path.join(bindingSrc, 'deps'));
  log('compiling the tfjs-node binding (node-gyp)...');
  nodeGyp(
    bindingSrc,
    [
      '--module_name=tfjs_binding',
      `--module_path=./lib/napi-v${NAPI_VERSION}`,
      `--napi_build_version=${NAPI_VERSION}`,
    ],
    env,
  );
  const out = path.join(staging, 'lib', `napi-v${NAPI_VERSION}`);
  mkdirSync(out, { recursive: true });
  cpSync(path.join(bindingSrc, 'build', 'Release', 'tfjs_binding.node'), path.join(out, 'tfjs_binding.node'));

  rmSync(bindingSrc, { recursive: true, force: true });
  buildOwnAddons(staging, env);
}

/** Our addons (native/): the device lister and the stderr capture, built into a build folder. */
const OWN_ADDONS = ['tsnas_tf_devices', 'tsnas_stderr'];

function buildOwnAddons(buildDir, env) {
  const src = path.join(buildDir, 'build-native');
  rmSync(src, { recursive: true, force: true });
  cpSync(path.join(packageRoot, 'native'), src, { recursive: true });
  symlinkSync(path.join(buildDir, 'deps'), path.join(src, 'deps'));
  nodeGyp(src, [], env);
  const out = path.join(buildDir, 'lib', `napi-v${NAPI_VERSION}`);
  mkdirSync(out, { recursive: true });
  for (const name of OWN_ADDONS)
    cpSync(path.join(src, 'build', 'Release', `${name}.node`), path.join(out, `${name}.node`));
  rmSync(src, { recursive: true, force: true });
}

/** A cached build made before an addon was added gets the missing ones (seconds, no download). */
function completeOwnAddons(buildDir, env) {
  const out = path.join(buildDir, 'lib', `napi-v${NAPI_VERSION}`);
  if (OWN_ADDONS.every((name) => existsSync(path.join(out, `${name}.node`)))) return;
  const missing = checkPrerequisites(env, { needPip: false }).filter((m) => !m.includes('to read the wheel'));
  if (missing.length > 0) return; // the backend works without them: no device list, TensorFlow's banner shown
  log("compiling tsnas's addons for the cached build (node-gyp)...");
  buildOwnAddons(buildDir, env);
}

/** Points the installed tfjs-node package at a cached build (deps/ link, binding copy). */
export function linkIntoPackage(buildDir, tfjsNodeDir) {
  const deps = path.join(tfjsNodeDir, 'deps');
  if (existsSync(deps) || isSymlink(deps)) {
    if (!isSymlink(deps)) {
      throw new SetupError(
        `${deps} exists and is not a link made by tsnas; remove it to let tsnas link its build`,
      );
    }
    rmSync(deps, { force: true });
  }
  symlinkSync(path.join(buildDir, 'deps'), deps);
  const libDir = path.join(tfjsNodeDir, 'lib', `napi-v${NAPI_VERSION}`);
  mkdirSync(libDir, { recursive: true });
  // A copy, not a link: the binding finds deps/lib through $ORIGIN/../../deps/lib. Copied beside
  // and renamed over, so a process that has the old one mapped keeps a whole file.
  const tmp = path.join(libDir, `tfjs_binding.node.tmp-${process.pid}`);
  cpSync(path.join(buildDir, 'lib', `napi-v${NAPI_VERSION}`, 'tfjs_binding.node'), tmp);
  renameSync(tmp, path.join(libDir, 'tfjs_binding.node'));
}

function isSymlink(p) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The build the installed tfjs-node package is linked to, if any. */
export function linkedBuild(tfjsNodeDir = findTfjsNode()) {
  if (tfjsNodeDir == null) return undefined;
  const deps = path.join(tfjsNodeDir, 'deps');
  if (!isSymlink(deps)) return undefined;
  const buildDir = path.dirname(readlinkSync(deps));
  return readManifest(buildDir) ? buildDir : undefined;
}

/** The build's manifest.json ({ variant, tensorflow, ... }), or undefined when it has none. */
export function readManifest(buildDir) {
  try {
    return JSON.parse(readFileSync(path.join(buildDir, 'manifest.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Loads the built backend in a child process and returns what TensorFlow reports. */
export function verifyBuild(buildDir, env = process.env) {
  // Loaded from the build folder itself (its rpath $ORIGIN/../../deps/lib holds there too), in a
  // child process: a library that cannot run on this CPU or glibc crashes the child, not us, and is
  // never linked into tfjs-node, where every later run would load it.
  const script = `
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    const devices = require(${JSON.stringify(path.join(buildDir, 'lib', `napi-v${NAPI_VERSION}`, 'tsnas_tf_devices.node'))});
    const binding = require(${JSON.stringify(path.join(buildDir, 'lib', `napi-v${NAPI_VERSION}`, 'tfjs_binding.node'))});
    console.log(JSON.stringify({ tensorflow: binding.TF_Version, devices: devices.listDevices(), gpu: binding.isUsingGpuDevice() }));`;
  const r = run(process.execPath, ['-e', script], {
    quiet: true,
    env: { ...env, TF_CPP_MIN_LOG_LEVEL: env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
  });
  if (!r.ok) {
    const why = r.output.trim().split('\n').slice(-3).join(' ') || `exit ${r.status ?? r.signal}`;
    throw new SetupError(`the built binding does not load on this machine (${why}); not linked`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/**
 * Makes the tensorflow backend available: builds (or reuses) the binding for `variant` and links it
 * into the installed @tensorflow/tfjs-node. Returns { buildDir, cached, report }.
 */
export function setupTensorflow({ variant = 'cpu', version, wheel, force = false, env = process.env } = {}) {
  if (process.platform !== 'linux') {
    throw new SetupError(
      `building the tensorflow backend is supported on Linux only (this is ${process.platform})`,
    );
  }
  const tfVersion = version ?? env.TSNAS_TENSORFLOW_VERSION ?? DEFAULT_TENSORFLOW_VERSION;
  const wheelFile = wheel ?? env.TSNAS_TENSORFLOW_WHEEL;
  const tfjsNodeDir = findTfjsNode();
  if (tfjsNodeDir == null) {
    throw new SetupError(
      '@tensorflow/tfjs-node is not installed; install it without its download step: npm install --ignore-scripts @tensorflow/tfjs-node@4.22.0',
    );
  }
  const tfjsNodeVersion = JSON.parse(readFileSync(path.join(tfjsNodeDir, 'package.json'), 'utf8')).version;
  const buildDir = path.join(
    cacheRoot(env),
    'tensorflow',
    buildKey({ variant, version: tfVersion, tfjsNodeVersion }),
  );
  if (!force && readManifest(buildDir)) {
    completeOwnAddons(buildDir, env);
    const report = verifyOrUnlink(buildDir, tfjsNodeDir, env);
    linkIntoPackage(buildDir, tfjsNodeDir);
    return { buildDir, cached: true, report };
  }
  const missing = checkPrerequisites(env, { needPip: wheelFile == null });
  if (missing.length > 0)
    throw new SetupError(`cannot build the tensorflow backend: missing ${missing.join(', ')}`);
  if (wheelFile != null && !existsSync(wheelFile))
    throw new SetupError(`TSNAS_TENSORFLOW_WHEEL: no such file ${wheelFile}`);

  const staging = `${buildDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(path.join(staging, 'deps', 'lib'), { recursive: true });
  const downloads = path.join(staging, 'wheels');
  try {
    let wheels;
    if (wheelFile != null) {
      log(`using the wheel ${wheelFile}`);
      wheels = { tfWheel: path.resolve(wheelFile), cuda: [] };
    } else {
      mkdirSync(downloads, { recursive: true });
      wheels = downloadWheels({ variant, version: tfVersion, dir: downloads, env });
    }
    log(`extracting libtensorflow from ${path.basename(wheels.tfWheel)}...`);
    extractWheel(wheels.tfWheel, path.join(staging, 'deps'), env, { expectLibraries: true });
    // deps/nvidia/<lib>/lib: the GPU wheel's libraries find CUDA through $ORIGIN/../nvidia/*/lib.
    for (const w of wheels.cuda) extractWheel(w, path.join(staging, 'deps'), env, { expectLibraries: false });
    rmSync(downloads, { recursive: true, force: true });
    linkLibraries(path.join(staging, 'deps', 'lib'));
    buildAddons({ tfjsNodeDir, staging, env });
    writeFileSync(
      path.join(staging, 'manifest.json'),
      `${JSON.stringify({ variant, tensorflow: tfVersion, wheel: path.basename(wheels.tfWheel), cudaWheels: wheels.cuda.map((w) => path.basename(w)), tfjsNode: tfjsNodeVersion, napi: NAPI_VERSION, builtAt: new Date().toISOString() }, null, 2)}\n`,
    );
    mkdirSync(path.dirname(buildDir), { recursive: true });
    if (readManifest(buildDir) && !force) {
      // Another install finished the same build meanwhile: use that one.
      rmSync(staging, { recursive: true, force: true });
    } else {
      rmSync(buildDir, { recursive: true, force: true });
      renameSync(staging, buildDir);
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const report = verifyOrUnlink(buildDir, tfjsNodeDir, env);
  linkIntoPackage(buildDir, tfjsNodeDir);
  return { buildDir, cached: false, report };
}

/** verifyBuild, and on failure removes a link to that build so no run loads it. */
function verifyOrUnlink(buildDir, tfjsNodeDir, env) {
  try {
    return verifyBuild(buildDir, env);
  } catch (err) {
    if (linkedBuild(tfjsNodeDir) === buildDir) {
      rmSync(path.join(tfjsNodeDir, 'deps'), { force: true });
      rmSync(path.join(tfjsNodeDir, 'lib', `napi-v${NAPI_VERSION}`, 'tfjs_binding.node'), { force: true });
    }
    throw err;
  }
}
