// `pnpm bench:search`: does the architecture search find better cells than chance? Runs `nas darts`
// and `nas random` at the embedded default (no profile options: each algorithm's default profile,
// whose search and eval sizes both include @tsnas/runner/configs/profiles/embedded.yaml, so every
// found cell is trained and tested with the same eval budget) for several seeds, one run after
// another through the built CLI (packages/cli/dist/bin.js), each in its own experiment folder.
// Prints one JSON object on stdout (progress goes to stderr):
//   { runs: [{ algo, seed, exp_dir, test_top1, search_s, eval_s, wall_s, arch_steps, genotype,
//              alpha_entropy }],
//     algos: { <algo>: { runs, test_top1_mean, test_top1_std, alpha_entropy_mean, alpha_entropy_max } },
//     eval_budget: { same_eval_config, ... } }
// alpha_entropy: the mean over the searched edges of the entropy (natural log) of softmax(alpha) at
// the end of the search (the last epoch of search/alphas.jsonl); alpha_entropy_max is its value for
// uniform weights, ln(8) for DARTS' 8 primitives. Near the maximum, the alphas barely moved.
//
// Options: --seeds 1,2,3 (default), --algos darts,random (default), --out DIR (default a new
// temporary folder; a folder of an earlier bench resumes its unfinished runs and reads the finished
// ones back). Arguments after `--` go to every run, e.g. `-- --toy` or `-- --config tiny.yaml`.
// The default (3 seeds of two 10-minute runs) takes about 40 minutes on 2 cores.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', '..', 'packages', 'cli', 'dist', 'bin.js');

function usage(message: string): never {
  process.stderr.write(`bench:search: ${message}\n`);
  process.exit(2);
}

const dashes = process.argv.indexOf('--', 2);
const own = dashes >= 0 ? process.argv.slice(2, dashes) : process.argv.slice(2);
const passThrough = dashes >= 0 ? process.argv.slice(dashes + 1) : [];
let values: { seeds?: string; algos?: string; out?: string };
try {
  ({ values } = parseArgs({
    args: own,
    options: { seeds: { type: 'string' }, algos: { type: 'string' }, out: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  usage(`${(e as Error).message} (options: --seeds 1,2,3 --algos darts,random --out DIR [-- run args])`);
}
const seedsArg = values.seeds ?? '1,2,3';
const seeds = seedsArg.split(',').map((s) => s.trim());
if (seeds.some((s) => !/^\d+$/.test(s))) usage(`--seeds: expected integers like 1,2,3, got '${seedsArg}'`);
const algosArg = values.algos ?? 'darts,random';
const algos = algosArg.split(',').map((a) => a.trim());
if (algos.some((a) => !/^[a-z][a-z0-9_-]*$/.test(a)))
  usage(`--algos: expected algorithm names like darts,random, got '${algosArg}'`);
if (!existsSync(BIN)) usage(`${BIN} is missing: build the CLI first (pnpm bench:search builds it)`);
const out = values.out ? resolve(values.out) : mkdtempSync(join(tmpdir(), 'tsnas-bench-search-'));
mkdirSync(out, { recursive: true });

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

/** Entropy (natural log) of a probability vector; 0 * ln 0 counts as 0. */
function entropy(p: number[]): number {
  return -p.reduce((h, x) => (x > 0 ? h + x * Math.log(x) : h), 0);
}

/**
 * The mean entropy of the edges' softmax(alpha) at the last epoch of search/alphas.jsonl, and the
 * mean of ln(#primitives) (uniform weights); null for a search without alphas (random).
 */
function alphaEntropy(expDir: string): { mean: number; max: number } | null {
  const file = join(expDir, 'search', 'alphas.jsonl');
  if (!existsSync(file)) return null;
  const records = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { epoch: number; edges: { weights: Record<string, number> }[] });
  if (records.length === 0) return null;
  // A resumed search appends an epoch again: the last line of the last epoch is the final state.
  const lastEpoch = Math.max(...records.map((r) => r.epoch));
  const last = records.filter((r) => r.epoch === lastEpoch).at(-1)!;
  if (last.edges.length === 0) return null;
  const weights = last.edges.map((e) => Object.values(e.weights));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean: avg(weights.map(entropy)), max: avg(weights.map((w) => Math.log(w.length))) };
}

/** The `nas.eval` block of config_used.yaml, as written (every run's must match). */
function evalConfig(expDir: string): string | null {
  const file = join(expDir, 'config_used.yaml');
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').split('\n');
  const start = lines.indexOf('  eval:');
  if (start < 0) return null;
  const end = lines.findIndex((l, i) => i > start && l.trim() !== '' && !l.startsWith('    '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

/** `nas ALGO --seed SEED --exp-dir DIR --json ...passThrough`: its exit code and wall seconds. */
function runNas(
  algo: string,
  seed: string,
  expDir: string,
): Promise<{ code: number | null; wall_s: number; err: string }> {
  const tag = `bench:search ${algo} seed ${seed}`;
  return new Promise((resolvePromise) => {
    const started = performance.now();
    const args = [BIN, algo, '--seed', seed, '--exp-dir', expDir, '--json', ...passThrough];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const e = JSON.parse(line);
        if (e.kind === 'epoch_end') {
          const val = e.val ? `, val top1 ${e.val.top1.toFixed(4)}` : '';
          process.stderr.write(
            `${tag}: ${e.phase} epoch ${e.epoch + 1}/${e.epochs}, train top1 ${e.train.top1.toFixed(4)}${val}\n`,
          );
        } else if (e.kind === 'test') {
          process.stderr.write(`${tag}: test top1 ${e.test.top1.toFixed(4)}\n`);
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('close', (code) =>
      resolvePromise({ code, wall_s: round((performance.now() - started) / 1000, 1), err }),
    );
  });
}

interface RunRow {
  algo: string;
  seed: number;
  exp_dir: string;
  test_top1: number;
  search_s: number;
  eval_s: number;
  wall_s: number;
  arch_steps: number | null;
  genotype: string;
  alpha_entropy: number | null;
}

process.stderr.write(`bench:search: ${algos.join(', ')} x seeds ${seeds.join(', ')} in ${out}\n`);
const runs: RunRow[] = [];
const entropyMax = new Map<string, number>();
const evalConfigs = new Set<string | null>();
for (const algo of algos) {
  for (const seed of seeds) {
    const expDir = join(out, `${algo}-seed${seed}`);
    process.stderr.write(
      `bench:search ${algo} seed ${seed}: nas ${algo} --seed ${seed} --exp-dir ${expDir}\n`,
    );
    const r = await runNas(algo, seed, expDir);
    if (r.code !== 0) {
      const tail = r.err.trim().split('\n').slice(-5).join('\n');
      process.stderr.write(`bench:search ${algo} seed ${seed}: nas exited with ${r.code}\n${tail}\n`);
      process.exit(r.code === 2 ? 2 : 1);
    }
    const s = JSON.parse(readFileSync(join(expDir, 'summary.json'), 'utf8'));
    const h = alphaEntropy(expDir);
    if (h) entropyMax.set(algo, h.max);
    evalConfigs.add(evalConfig(expDir));
    runs.push({
      algo,
      seed: Number(seed),
      exp_dir: expDir,
      test_top1: s.eval.test_top1,
      search_s: round(s.search.seconds, 1),
      eval_s: round(s.eval.seconds, 1),
      wall_s: r.wall_s,
      arch_steps: s.search.arch_steps ?? null,
      genotype: s.search.genotype,
      alpha_entropy: h ? round(h.mean, 6) : null,
    });
  }
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
/** Sample standard deviation (n - 1); null below two values. */
function std(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs)!;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}
const orNull = (x: number | null) => (x === null ? null : round(x));

const perAlgo: Record<string, unknown> = {};
for (const algo of algos) {
  const mine = runs.filter((r) => r.algo === algo);
  const top1 = mine.map((r) => r.test_top1);
  const entropies = mine.flatMap((r) => (r.alpha_entropy === null ? [] : [r.alpha_entropy]));
  perAlgo[algo] = {
    runs: mine.length,
    test_top1_mean: orNull(mean(top1)),
    test_top1_std: orNull(std(top1)),
    alpha_entropy_mean: entropies.length ? round(mean(entropies)!, 6) : null,
    alpha_entropy_max: entropyMax.has(algo) ? round(entropyMax.get(algo)!, 6) : null,
  };
}

const result = {
  benchmark: 'search_vs_random',
  run_args: passThrough,
  out,
  eval_budget: {
    // Every run's nas.eval section (network, data, epochs, schedule) is the same text.
    same_eval_config: evalConfigs.size === 1 && !evalConfigs.has(null),
    note: passThrough.length
      ? `each algorithm's profile with: ${passThrough.join(' ')}`
      : "each algorithm's default profile: the eval of @tsnas/runner/configs/profiles/embedded.yaml",
  },
  runs,
  algos: perAlgo,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
