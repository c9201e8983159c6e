// `pnpm bench`: the DARTS first-order search step (16 channels, 8 cells, 4 nodes, batch 32 of
// 32x32x3; one weight step + one architecture step) in tsnas on each backend and in PyTorch on the
// same CPU (1 and 2 threads, the faster counting). Prints one JSON object.
//
// Options: --steps N (timed steps per backend, default 3), --warmup N (default 1), --chunks N
// (batch_chunks for tsnas, default 1), --workers N (data-parallel threads for wasm, default 2:
// tfjs's wasm backend runs one thread in Node, the machine has two cores),
// --backends wasm,cpu (default), --cpu-budget SECONDS (default 600: the cpu backend is stopped
// after this and reported as such), --torch-steps N (default 3), --no-torch, --profile.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const steps = arg('steps', '3');
const warmup = arg('warmup', '1');
const chunks = arg('chunks', '1');
const workers = arg('workers', '2');
const backends = arg('backends', 'wasm,cpu').split(',');
const cpuBudget = Number(arg('cpu-budget', '600'));
const torchSteps = arg('torch-steps', '3');

function lastJsonLine(text: string): any {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return lines.length ? JSON.parse(lines[lines.length - 1]) : null;
}

function runTsnas(backend: string, extra: string[] = [], budgetS = 3600): any {
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      join(here, 'step.js'),
      '--backend',
      backend,
      '--steps',
      steps,
      '--warmup',
      warmup,
      '--chunks',
      chunks,
      '--workers',
      workers,
      ...extra,
    ],
    { encoding: 'utf8', timeout: budgetS * 1000, maxBuffer: 64 << 20 },
  );
  const wall = (performance.now() - started) / 1000;
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    return { backend, skipped: `stopped after ${budgetS} s without finishing ${warmup}+${steps} steps` };
  }
  const out = lastJsonLine(r.stdout ?? '');
  if (r.status !== 0 || !out) {
    return { backend, error: (r.stderr || r.stdout || '').trim().split('\n').slice(0, 3).join(' | ') };
  }
  return { ...out, wall_s: Math.round(wall) };
}

/** The system Python that can import torch (Debian's python3-torch), not the first on PATH. */
function findTorchPython(): string | null {
  for (const py of ['/usr/bin/python3', 'python3', '/usr/local/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

function runTorch(py: string, threads: number): any {
  const r = spawnSync(py, [join(here, '..', 'torch_darts_step.py'), String(threads), torchSteps, '1'], {
    encoding: 'utf8',
    timeout: 3600_000,
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  const out = lastJsonLine(r.stdout ?? '');
  return out ?? { threads, error: (r.stderr ?? '').trim().split('\n').slice(-2).join(' | ') };
}

const result: any = {
  benchmark: 'darts_first_order_search_step',
  shapes: {
    supernet: { init_node_ch: 16, n_cells: 8, n_nodes: 4, stem_multiplier: 3, primitives: 8 },
    batch: [32, 32, 32, 3],
    batch_chunks: Number(chunks),
    wasm_workers: Number(workers),
    step: 'arch step (val batch fwd+bwd to alphas, Adam) + weight step (train batch fwd+bwd, clip 5, SGD momentum)',
  },
  tsnas: {} as Record<string, any>,
};

for (const b of backends) {
  result.tsnas[b] = runTsnas(b, [], b === 'cpu' ? cpuBudget : 3600);
  process.stderr.write(`tsnas ${b}: ${JSON.stringify(result.tsnas[b])}\n`);
}
if (process.argv.includes('--profile')) {
  result.profile_wasm_batch4 = runTsnas('wasm', ['--profile', '--batch', '4']);
}

const py = process.argv.includes('--no-torch') ? null : findTorchPython();
if (!py) {
  result.torch = {
    skipped: process.argv.includes('--no-torch')
      ? '--no-torch'
      : 'no Python with torch found (apt-get install python3-torch)',
  };
} else {
  const t1 = runTorch(py, 1);
  const t2 = runTorch(py, 2);
  const best = [t1, t2]
    .filter((t) => typeof t.median_ms === 'number')
    .sort((a, b) => a.median_ms - b.median_ms)[0];
  result.torch = {
    python: py,
    threads_1: t1,
    threads_2: t2,
    best_ms: best?.median_ms ?? null,
    best_threads: best?.threads ?? null,
  };
}

const measured = Object.values(result.tsnas).filter((t: any) => typeof t.median_ms === 'number') as any[];
const fastest = measured.sort((a, b) => a.median_ms - b.median_ms)[0];
result.fastest_backend = fastest?.backend ?? null;
result.tsnas_ms = fastest?.median_ms ?? null;
result.torch_ms = result.torch.best_ms ?? null;
result.ratio_vs_torch =
  result.torch_ms && result.tsnas_ms ? Number((result.torch_ms / result.tsnas_ms).toFixed(4)) : null;
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
