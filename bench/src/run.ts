// `pnpm bench`: the DARTS first-order search step (one architecture step + one weight step at batch
// 32) in tsnas on each backend and in PyTorch on the same CPU, at two sizes: `paper` (the DARTS
// paper's CIFAR-10 supernet: 16 channels, 8 cells, 32x32x3) and `embedded` (the `nas darts`
// default: 4 channels, 3 cells, 28x28x1). Prints one JSON object:
//   { sizes: { embedded: { tsnas: {<backend>: {median_ms, ...}}, torch: {...}, ratio_vs_torch },
//              paper: {...} }, ratio_vs_torch: <the smaller of the two> }
// ratio_vs_torch = the better PyTorch's ms / tsnas's fastest backend's ms (> 1: tsnas is faster).
//
// Options: --size embedded|paper|all (default all), --backends tensorflow,wasm,cpu (default: all
// three), --steps N (timed steps; default 10 embedded, 3 paper), --warmup N (untimed steps
// before them; default 3 embedded, 1 paper: an embedded iteration is short, and its first few
// still include V8's and PyTorch's warm-up), --workers N (gradient
// threads, default 2: the machine has two cores), --chunks N (batch_chunks, default 1),
// --first-step-budget SECONDS (default 60: a backend whose first step takes longer is stopped and
// reported as too slow), --torch-steps N (default: as --steps; PyTorch warms up as tsnas does),
// --no-torch, --profile (top 10 kernels of one
// step per backend: batch 32 embedded, batch 4 paper, where tfjs's profiler would overflow).
// PyTorch: Debian's python3-torch (/usr/bin/python3) and any Python in $TSNAS_TORCH_PYTHONS
// (colon-separated, e.g. a venv with torch 2.x), each at 1 and 2 threads, the fastest counting.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};
const SIZES = ['embedded', 'paper'] as const;
type Size = (typeof SIZES)[number];
const sizeArg = arg('size', 'all');
if (sizeArg !== 'all' && !SIZES.includes(sizeArg as Size)) {
  process.stderr.write(`bench: --size: expected embedded, paper or all, got '${sizeArg}'\n`);
  process.exit(2);
}
const sizes: Size[] = sizeArg === 'all' ? [...SIZES] : [sizeArg as Size];
/** Per size: timed steps and warm-up steps, for tsnas and PyTorch alike. */
const DEFAULT_STEPS: Record<Size, { steps: string; warmup: string }> = {
  embedded: { steps: '10', warmup: '3' },
  paper: { steps: '3', warmup: '1' },
};
const stepsFor = (size: Size) => arg('steps', DEFAULT_STEPS[size].steps);
const warmupFor = (size: Size) => arg('warmup', DEFAULT_STEPS[size].warmup);
const chunks = arg('chunks', '1');
const workers = arg('workers', '2');
const backends = arg('backends', 'tensorflow,wasm,cpu').split(',');
const firstStepBudget = Number(arg('first-step-budget', '60'));
const torchStepsFor = (size: Size) => arg('torch-steps', stepsFor(size));
const profile = process.argv.includes('--profile');

function jsonLines(text: string): any[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

/**
 * One backend in its own process. Stopped when its first step has not finished within the budget
 * (the cpu backend at paper size takes minutes), or after an hour.
 */
function runTsnas(backend: string, size: Size, extra: string[] = []): Promise<any> {
  return new Promise((resolvePromise) => {
    const started = performance.now();
    // tfjs's profiler recurses per kernel: a paper step's ~128k kernels overflow Node's default stack.
    const stack = extra.includes('--profile') ? ['--stack-size=8000'] : [];
    const child = spawn(
      process.execPath,
      [
        ...stack,
        join(here, 'step.js'),
        '--backend',
        backend,
        '--size',
        size,
        '--steps',
        stepsFor(size),
        '--warmup',
        warmupFor(size),
        '--chunks',
        chunks,
        '--workers',
        workers,
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    let firstStep = false;
    let stopped: string | undefined;
    const stop = (why: string) => {
      stopped = why;
      child.kill('SIGKILL');
    };
    const budget = setTimeout(() => {
      if (!firstStep)
        stop(
          `too slow: its first step did not finish within the ${firstStepBudget} s budget (--first-step-budget)`,
        );
    }, firstStepBudget * 1000);
    const limit = setTimeout(() => stop('stopped after an hour'), 3600_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!firstStep && out.includes('"progress":"first_step"')) firstStep = true;
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('close', (code) => {
      clearTimeout(budget);
      clearTimeout(limit);
      const wall = Math.round((performance.now() - started) / 1000);
      if (stopped) return resolvePromise({ backend, skipped: stopped, wall_s: wall });
      const result = jsonLines(out)
        .filter((l) => l.progress === undefined)
        .at(-1);
      if (code !== 0 || !result) {
        const lines = (err || out)
          .trim()
          .split('\n')
          .filter((l) => !/^(W|I)0000|^WARNING: All log/.test(l));
        return resolvePromise({ backend, error: lines.slice(-3).join(' | ') });
      }
      resolvePromise({ ...result, wall_s: wall });
    });
  });
}

/** Pythons that can import torch: Debian's system one, then $TSNAS_TORCH_PYTHONS. */
function torchPythons(): { python: string; version: string }[] {
  const candidates = [
    '/usr/bin/python3',
    ...(process.env.TSNAS_TORCH_PYTHONS ?? '').split(':').filter(Boolean),
  ];
  const found: { python: string; version: string }[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) found.push({ python: py, version: r.stdout.trim() });
  }
  return found;
}

function runTorch(py: string, threads: number, size: Size): any {
  const args = [String(threads), torchStepsFor(size), warmupFor(size), size];
  const r = spawnSync(py, [join(here, '..', 'torch_darts_step.py'), ...args], {
    encoding: 'utf8',
    timeout: 3600_000,
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  return (
    jsonLines(r.stdout ?? '').at(-1) ?? {
      threads,
      error: (r.stderr ?? '').trim().split('\n').slice(-2).join(' | '),
    }
  );
}

const pythons = process.argv.includes('--no-torch') ? [] : torchPythons();
const result: any = {
  benchmark: 'darts_first_order_search_step',
  step: 'arch step (val batch fwd+bwd to alphas, Adam) + weight step (train batch fwd+bwd, clip 5, SGD momentum), batch 32',
  workers: Number(workers),
  batch_chunks: Number(chunks),
  sizes: {} as Record<string, any>,
};
const SHAPES = {
  embedded: { init_node_ch: 4, n_cells: 3, n_reductions: 1, n_nodes: 4, input: [28, 28, 1], primitives: 8 },
  paper: { init_node_ch: 16, n_cells: 8, n_reductions: 2, n_nodes: 4, input: [32, 32, 3], primitives: 8 },
};

for (const size of sizes) {
  const entry: any = { supernet: SHAPES[size], tsnas: {} };
  for (const b of backends) {
    entry.tsnas[b] = await runTsnas(b, size);
    process.stderr.write(`bench ${size} tsnas ${b}: ${JSON.stringify(entry.tsnas[b])}\n`);
  }
  if (profile) {
    entry.profile = {};
    for (const b of backends.filter((x) => typeof entry.tsnas[x]?.median_ms === 'number')) {
      const batch = size === 'paper' ? '4' : '32';
      entry.profile[b] = await runTsnas(b, size, ['--profile', '--batch', batch, '--workers', '1']);
    }
  }
  if (pythons.length === 0) {
    entry.torch = {
      skipped: process.argv.includes('--no-torch')
        ? '--no-torch'
        : 'no Python with torch found (apt-get install python3-torch; or TSNAS_TORCH_PYTHONS)',
    };
  } else {
    entry.torch = { runs: [] as any[] };
    for (const { python, version } of pythons) {
      for (const threads of [1, 2]) {
        const t = { python, ...runTorch(python, threads, size) };
        entry.torch.runs.push(t);
        process.stderr.write(`bench ${size} torch ${version} ${threads} thread(s): ${JSON.stringify(t)}\n`);
      }
    }
    const best = entry.torch.runs
      .filter((t: any) => typeof t.median_ms === 'number')
      .sort((a: any, b: any) => a.median_ms - b.median_ms)[0];
    entry.torch.best_ms = best?.median_ms ?? null;
    entry.torch.best = best ? { torch: best.torch, threads: best.threads, python: best.python } : null;
  }
  const measured = Object.values(entry.tsnas).filter((t: any) => typeof t.median_ms === 'number') as any[];
  const fastest = measured.sort((a, b) => a.median_ms - b.median_ms)[0];
  entry.fastest_backend = fastest?.backend ?? null;
  entry.tsnas_ms = fastest?.median_ms ?? null;
  entry.torch_ms = entry.torch.best_ms ?? null;
  entry.ratio_vs_torch =
    entry.torch_ms && entry.tsnas_ms ? Number((entry.torch_ms / entry.tsnas_ms).toFixed(4)) : null;
  result.sizes[size] = entry;
}
const ratios = Object.values(result.sizes)
  .map((e: any) => e.ratio_vs_torch)
  .filter((r): r is number => typeof r === 'number');
result.ratio_vs_torch = ratios.length === sizes.length ? Math.min(...ratios) : null;
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
