// One backend's measurement, run in its own process by run.ts (so a slow backend can be stopped):
// the DARTS first-order search step (arch step: forward + backward to the alphas on a validation
// batch, Adam; weight step: forward + backward, clip, SGD) at batch 32 on the paper's CIFAR-10
// supernet (--size paper: 16 channels, 8 cells) or the embedded default's (--size embedded: 4
// channels, 3 cells, 28x28x1), timed per step after warm-up. Prints a progress line after the
// first step, then one JSON line with the result.
import 'reflect-metadata';
import darts, { BilevelArchTrainer } from '@tsnas/algo-darts';
import { initBackend, seedEverything } from '@tsnas/backend';
import type { ConfModelDesc, ModelDescBuilder } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { createRunContainer, MODEL_DESC_BUILDER, modelReplicaRecipe, pluginModulesFor } from '@tsnas/runner';
import type { Batch, BatchSource } from '@tsnas/trainer';
import { type ComputeTimings, DataParallelEngine } from '@tsnas/trainer/parallel';
import * as tf from '@tensorflow/tfjs-core';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const backend = arg('backend', 'wasm') as 'wasm' | 'cpu' | 'tensorflow';
const steps = Number(arg('steps', '3'));
const warmup = Number(arg('warmup', '1'));
const batch = Number(arg('batch', '32'));
const profile = process.argv.includes('--profile');
const chunks = Number(arg('chunks', '1'));
/** Threads computing gradients (data-parallel over worker threads when > 1). */
const workers = Number(arg('workers', '1'));
const size = arg('size', 'paper') as 'paper' | 'embedded';

/** The paper's CIFAR-10 search supernet: 16 channels, 8 cells, 32x32x3. */
export const SUPERNET: ConfModelDesc = {
  dataset: { name: 'cifar10', channels: 3, n_classes: 10 },
  n_reductions: 2,
  n_cells: 8,
  max_final_edges: 2,
  model_post_op: 'pool_adaptive_avg2d',
  params: {},
  aux_weight: 0,
  aux_tower_stride: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 16 },
  cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
};

/** The embedded default's search supernet (`nas darts`): 4 channels, 3 cells, 28x28x1. */
export const EMBEDDED_SUPERNET: ConfModelDesc = {
  ...SUPERNET,
  dataset: { name: 'fashion_mnist', channels: 1, n_classes: 10 },
  n_reductions: 1,
  n_cells: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
};

const SIZES = {
  paper: { supernet: SUPERNET, input: [32, 32, 3] },
  embedded: { supernet: EMBEDDED_SUPERNET, input: [28, 28, 1] },
} as const;
const { supernet, input } = SIZES[size];

/**
 * CPU seconds of each thread of this process (Linux /proc; empty elsewhere). On a shared machine
 * the wall clock depends on the other tenants; per-thread CPU time shows the work each thread did.
 */
function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime (fields 14 and 15 of stat), in clock ticks of 1/100 s on Linux.
      out.set(tid, (Number(fields[11]) + Number(fields[12])) / 100);
    }
  } catch {
    // not Linux
  }
  return out;
}

class FixedBatches implements BatchSource {
  constructor(
    readonly length: number,
    private readonly seed: number,
  ) {}
  setEpoch(): void {}
  *[Symbol.iterator](): Iterator<Batch> {
    for (let i = 0; i < this.length; i++) {
      yield {
        x: tf.randomNormal([batch, ...input], 0, 1, 'float32', this.seed + i) as tf.Tensor4D,
        y: tf.randomUniform([batch], 0, 10, 'int32', this.seed + i) as tf.Tensor1D,
      };
    }
  }
}

async function main() {
  // TensorFlow's pools sized as a run sizes them (runner: cores / gradient threads, 1 inter-op).
  const chosen = await initBackend({
    backend,
    tensorflow: {
      intraOpThreads:
        Number(arg('tf-intra', '0')) || Math.max(1, Math.floor(availableParallelism() / workers)),
      interOpThreads: 1,
    },
  });
  seedEverything(0);
  // The container a `nas darts` run gets: the runner's defaults and what the plug-in declares.
  const c = createRunContainer({
    plugin: darts,
    packageName: '@tsnas/algo-darts',
    version: '',
    origin: 'built-in',
  });
  const desc = c.resolve<ModelDescBuilder>(MODEL_DESC_BUILDER).build(supernet);
  const model = new Model(desc, { container: c, affine: false, droppath: false });
  const stamps: number[] = [];
  let start = performance.now();
  // Where each weight step's time went with several threads (post, own chunks, wait, workers').
  const timings: ComputeTimings[] = [];
  let cpuAtStart = new Map<string, number>();
  const gradients =
    workers > 1
      ? new DataParallelEngine({
          workers,
          recipe: {
            ...modelReplicaRecipe({
              desc,
              affine: false,
              droppath: false,
              plugins: pluginModulesFor(desc, c, [process.cwd(), fileURLToPath(import.meta.url)]),
            }),
            loss: {},
            backend,
          },
        })
      : undefined;
  const trainer = new BilevelArchTrainer(
    {
      title: 'bench',
      epochs: 1,
      grad_clip: 5,
      batch_chunks: chunks,
      optimizer: { type: 'sgd', lr: 0.025, momentum: 0.9, decay: 3e-4 },
      alpha_optimizer: { type: 'adam', lr: 3e-4, decay: 1e-3, betas: [0.5, 0.999] },
      unrolled: false,
      validation: null,
      logger_freq: 0,
    } as any,
    model,
    {
      onEvent: (e) => {
        if (e.kind !== 'step') return;
        stamps.push(performance.now());
        // run.ts stops a backend whose first step exceeds its budget; this line says it finished.
        if (stamps.length === 1)
          console.log(JSON.stringify({ progress: 'first_step', ms: Math.round(stamps[0] - start) }));
        if (gradients) timings.push(gradients.lastTimings());
        if (stamps.length === warmup) cpuAtStart = threadCpuSeconds();
      },
      ...(gradients ? { gradients } : {}),
    },
  );
  if (profile) {
    // One profiled step after warm-up: where the time goes, by kernel.
    await trainer.fit({ train: new FixedBatches(warmup, 1), val: new FixedBatches(1000, 5000), test: null });
    const info = await tf.profile(async () => {
      const t2 = new BilevelArchTrainer((trainer as any).conf, model, {});
      await t2.fit({ train: new FixedBatches(1, 7), val: new FixedBatches(1, 9), test: null });
      t2.dispose();
    });
    const agg = new Map<string, [number, number]>();
    for (const k of info.kernels) {
      const [ms, calls] = agg.get(k.name) ?? [0, 0];
      agg.set(k.name, [ms + Number(k.kernelTimeMs), calls + 1]);
    }
    const top = [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 10);
    console.log(
      JSON.stringify({
        backend: chosen.name,
        size,
        batch,
        kernel_count: info.kernels.length,
        kernel_ms_total: Math.round([...agg.values()].reduce((t, [ms]) => t + ms, 0)),
        top_kernels: top.map(([name, [ms, calls]]) => ({ name, ms: Math.round(ms), calls })),
      }),
    );
    return;
  }
  cpuAtStart = threadCpuSeconds();
  start = performance.now();
  await trainer.fit({
    train: new FixedBatches(warmup + steps, 1),
    val: new FixedBatches(1000, 5000),
    test: null,
  });
  const cpuAtEnd = threadCpuSeconds();
  const threadCpu = [...cpuAtEnd]
    .map(([tid, s]) => s - (cpuAtStart.get(tid) ?? 0))
    .filter((s) => s >= 0.5)
    .sort((a, b) => b - a)
    .map((s) => Math.round(s * 10) / 10);
  const times = stamps.map((t, i) => t - (i === 0 ? start : stamps[i - 1])).slice(warmup);
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      backend: chosen.name,
      size,
      reason: chosen.reason,
      workers,
      chunks,
      weights: model.paramCount(),
      steps: times.length,
      median_ms: sorted[Math.floor((sorted.length - 1) / 2)],
      min_ms: sorted[0],
      times_ms: times.map((t) => Math.round(t)),
      tensors_after: tf.memory().numTensors,
      thread_cpu_s: threadCpu,
      ...(gradients
        ? {
            weight_step_ms: timings.slice(warmup).map((t) => ({
              post: Math.round(t.postMs),
              own: Math.round(t.ownMs),
              wait: Math.round(t.waitMs),
              workers: t.workerMs.map(Math.round),
            })),
          }
        : {}),
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
