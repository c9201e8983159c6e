#!/usr/bin/env node
// tsnas-backend: builds the TensorFlow backend for tsnas (see scripts/setup-tensorflow.mjs) and
// tsnas's native CPU kernels for the wasm backend (scripts/build-kernels.mjs).
//   npx @tsnas/backend setup-tensorflow [--gpu] [--version 2.21.0] [--wheel FILE] [--force]
//   npx @tsnas/backend tensorflow-info
//   npx @tsnas/backend build-kernels
// `--if-possible` (the workspace's postinstall) turns every failure into one line and exit 0, so
// an install without pip or a compiler still ends with the wasm backend.
import { parseArgs } from 'node:util';
import { buildKernels } from '../scripts/build-kernels.mjs';
import {
  linkedBuild,
  SetupError,
  setupTensorflow,
  verifyBuild,
  findTfjsNode,
} from '../scripts/setup-tensorflow.mjs';

const USAGE = `usage: tsnas-backend setup-tensorflow [--gpu] [--version V] [--wheel FILE] [--force] [--if-possible]
       tsnas-backend tensorflow-info
       tsnas-backend build-kernels [--if-possible]`;

function fail(message, ifPossible) {
  if (ifPossible) {
    process.stderr.write(
      `tsnas: tensorflow backend not set up (${message.split('\n')[0]}); tsnas will use wasm. Retry with: pnpm --filter @tsnas/backend exec tsnas-backend setup-tensorflow\n`,
    );
    process.exit(0);
  }
  process.stderr.write(`tsnas-backend: ${message}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      gpu: { type: 'boolean', default: false },
      version: { type: 'string' },
      wheel: { type: 'string' },
      force: { type: 'boolean', default: false },
      'if-possible': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  fail(`${err.message}\n${USAGE}`, false);
}
const { values, positionals } = parsed;
const command = positionals[0];
if (values.help || command == null) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command == null && !values.help ? 2 : 0);
}

if (command === 'setup-tensorflow') {
  const ifPossible = values['if-possible'];
  if (ifPossible && /^(0|false|no)$/i.test(process.env.TSNAS_TENSORFLOW ?? '')) {
    process.stderr.write('tsnas: TSNAS_TENSORFLOW=0: not building the tensorflow backend\n');
    process.exit(0);
  }
  const started = Date.now();
  // The postinstall reports in a few lines of its own, not pip's.
  if (ifPossible) process.env.TSNAS_SETUP_QUIET = '1';
  try {
    const { buildDir, cached, report } = setupTensorflow({
      variant: values.gpu ? 'gpu' : 'cpu',
      ...(values.version ? { version: values.version } : {}),
      ...(values.wheel ? { wheel: values.wheel } : {}),
      force: values.force,
    });
    const devices = report.devices.map((d) => `${d.type} ${d.name.split('/').pop()}`).join(', ');
    const took = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `tsnas: tensorflow backend ready (TensorFlow ${report.tensorflow}; devices: ${devices}; ${cached ? 'cached build' : `built in ${took} s`}: ${buildDir})\n`,
    );
  } catch (err) {
    fail(err instanceof SetupError ? err.message : (err?.stack ?? String(err)), ifPossible);
  }
} else if (command === 'build-kernels') {
  const ifPossible = values['if-possible'];
  if (ifPossible && /^(0|false|no|off)$/i.test(process.env.TSNAS_NATIVE_KERNELS ?? '')) {
    process.stderr.write('tsnas: TSNAS_NATIVE_KERNELS=0: not building the native CPU kernels\n');
    process.exit(0);
  }
  try {
    const built = buildKernels();
    process.stderr.write(
      `tsnas: native CPU kernels ready (${built.isa}; built in ${built.seconds.toFixed(1)} s)\n`,
    );
  } catch (err) {
    const message = err instanceof SetupError ? err.message : (err?.stack ?? String(err));
    if (ifPossible) {
      process.stderr.write(
        `tsnas: native CPU kernels not built (${message.split('\n')[0]}); wasm will use its SIMD kernels. Retry with: pnpm --filter @tsnas/backend exec tsnas-backend build-kernels\n`,
      );
      process.exit(0);
    }
    fail(message, false);
  }
} else if (command === 'tensorflow-info') {
  const tfjsNode = findTfjsNode();
  const buildDir = linkedBuild(tfjsNode);
  if (buildDir == null) fail('no tensorflow backend is set up; run: tsnas-backend setup-tensorflow', false);
  try {
    process.stdout.write(`${JSON.stringify({ buildDir, tfjsNode, ...verifyBuild(buildDir) }, null, 2)}\n`);
  } catch (err) {
    fail(err.message, false);
  }
} else {
  fail(`unknown command '${command}'\n${USAGE}`, false);
}
