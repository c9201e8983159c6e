#!/usr/bin/env node
// `pnpm fuzz [--runs N] [filter]`: runs every `*.fuzz.test.ts` suite with N generated inputs per
// loader (default 10,000) instead of the test suite's few hundred, one package at a time, and prints
// {loader: {inputs, loaded, rejected, crashes}} as JSON. Exits 1 when any input crashed a loader
// (an error other than the package's own, naming the file) or a suite failed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let runs = 10_000;
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else filters.push(args[i]);
}
if (!Number.isInteger(runs) || runs <= 0) {
  process.stderr.write(`fuzz: --runs needs a positive integer, got '${args[args.indexOf('--runs') + 1]}'\n`);
  process.exit(2);
}

/** Fuzz suites by package folder. */
const suites = new Map();
for (const group of ['packages', 'algos']) {
  let names = [];
  try {
    names = readdirSync(join(root, group));
  } catch {
    continue;
  }
  for (const name of names) {
    const pkg = join(root, group, name);
    let files;
    try {
      files = readdirSync(join(pkg, 'src'), { recursive: true });
    } catch {
      continue;
    }
    const fuzz = files
      .map(String)
      .filter((f) => f.endsWith('.fuzz.test.ts') && !f.includes('node_modules'))
      .map((f) => join('src', f))
      .filter((f) => filters.length === 0 || filters.some((x) => join(pkg, f).includes(x)));
    if (fuzz.length > 0) suites.set(pkg, fuzz.sort());
  }
}

const work = mkdtempSync(join(tmpdir(), 'tsnas-fuzz-'));
const report = join(work, 'counts.jsonl');
const vitest = join(root, 'node_modules', '.bin', 'vitest');
const failed = [];
const started = performance.now();
for (const [pkg, files] of suites) {
  const name = relative(root, pkg);
  process.stderr.write(`fuzz: ${name}: ${files.join(', ')} (${runs} inputs per loader)\n`);
  const r = spawnSync(vitest, ['run', ...files], {
    cwd: pkg,
    env: { ...process.env, TSNAS_FUZZ_RUNS: String(runs), TSNAS_FUZZ_REPORT: report },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    failed.push(name);
    process.stderr.write(`${r.stdout}\n${r.stderr}\n`);
  }
}

const counts = {};
let lines = [];
try {
  lines = readFileSync(report, 'utf8').trim().split('\n').filter(Boolean);
} catch {}
let crashes = 0;
for (const line of lines) {
  const { loader, inputs, loaded, rejected, crashes: c, slowest_ms, examples } = JSON.parse(line);
  counts[loader] = { inputs, loaded, rejected, crashes: c, slowest_ms };
  crashes += c;
  for (const e of examples)
    process.stderr.write(`fuzz: ${loader} crashed: ${e.error}\n  input: ${e.input}\n`);
}
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(counts, null, 2)}\n`);
process.stderr.write(
  `fuzz: ${Object.keys(counts).length} loaders, ${crashes} crashes, ${Math.round((performance.now() - started) / 1000)} s` +
    (failed.length ? `; failing suites: ${failed.join(', ')}` : '') +
    '\n',
);
process.exit(crashes > 0 || failed.length > 0 ? 1 : 0);
