// The job loop of a replica worker thread (started by DataParallelEngine's bootstrap): build the
// replica from its recipe, then for each job load the changed variables, run the rows' chunks
// forward and backward, and send the weighted gradient sums back.
import { initBackend, SeededRng, seedEverything } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableModel } from '../trainable.js';
import { accumulateChunks, type ChunkRange, evalSums, modelLoss } from '../gradients.js';
import type { EvalJob, GradJob, WorkerInit, WorkerJob, WorkerMessage } from './protocol.js';
import { taggedVariables } from './variables.js';

export async function runReplicaWorker(init: WorkerInit): Promise<void> {
  const { recipe, flag, port } = init;
  const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => {
    port.postMessage(m, transfer);
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  };
  await initBackend({ backend: recipe.backend });
  if (recipe.seed !== undefined) seedEverything(recipe.seed);
  const mod = await import(recipe.module);
  const exportName = recipe.factory ?? 'default';
  const factory = mod[exportName];
  if (typeof factory !== 'function') {
    throw new Error(`${recipe.module} does not export a replica factory '${exportName}'`);
  }
  const model: TrainableModel = await factory(recipe.args);
  const vars = taggedVariables(model);
  let dropPathP = 0;

  const syncState = (state: GradJob['state']) => {
    for (let i = 0; i < state.names.length; i++) {
      const name = state.names[i];
      const v = vars.get(name);
      if (!v) throw new Error(`state sync: the replica has no variable '${name}'`);
      const { data, shape } = state.tensors[i];
      const t = tf.tensor(data, shape, 'float32');
      v.assign(t);
      t.dispose();
    }
  };

  /** A job's rows as tensors of this thread (the caller disposes them). */
  const rowsOf = (job: GradJob | EvalJob) => ({
    x: tf.tensor4d(job.x.data, job.x.shape as [number, number, number, number], 'float32'),
    y: tf.tensor1d(job.y.data, job.y.dtype),
  });

  const evaluate = (job: EvalJob): WorkerMessage & { kind: 'evaluated' } => {
    syncState(job.state);
    const { x, y } = rowsOf(job);
    let sums: ReturnType<typeof evalSums>;
    try {
      sums = evalSums(model, x, y, job.smoothing);
    } finally {
      tf.dispose([x, y]);
    }
    return { kind: 'evaluated', ...sums, tensors: tf.memory().numTensors };
  };

  const run = (job: GradJob): WorkerMessage & { kind: 'result' } => {
    const started = performance.now();
    syncState(job.state);
    if (job.dropPath.p !== dropPathP) {
      model.setDropPathProb(job.dropPath.p);
      dropPathP = job.dropPath.p;
    }
    // Masks come from a seed the main thread draws per job: repeatable, and independent of how
    // many masks this replica drew before (a resumed run rebuilds nothing here).
    if (dropPathP > 0 && 'dropPathRng' in model) {
      (model as { dropPathRng: SeededRng }).dropPathRng = new SeededRng(job.dropPath.seed);
    }
    const { x, y } = rowsOf(job);
    const want = new Map<string, tf.Variable>();
    for (const name of job.vars) {
      const v = vars.get(name);
      if (!v) throw new Error(`the replica has no variable '${name}' to differentiate`);
      want.set(name, v);
    }
    const ranges: ChunkRange[] = [];
    let start = 0;
    for (const len of job.lens) {
      ranges.push({ start, len });
      start += len;
    }
    try {
      const part = accumulateChunks(x, y, ranges, job.batchSize, want, (xs, ys) =>
        modelLoss(model, xs, ys, true, recipe.loss),
      );
      const names: string[] = [];
      const grads: Float32Array[] = [];
      for (const [name, g] of part.grads) {
        names.push(name);
        // A copy: the cpu backend hands out its own storage, which must not be transferred away.
        grads.push(new Float32Array(g.dataSync() as Float32Array));
        g.dispose();
      }
      x.dispose();
      y.dispose();
      const buffers = { names: [] as string[], data: [] as Float32Array[] };
      for (const [name, v] of vars) {
        if (!name.startsWith('b:')) continue;
        buffers.names.push(name);
        buffers.data.push(new Float32Array(v.dataSync() as Float32Array));
      }
      return {
        kind: 'result',
        lossSum: part.lossSum,
        top1Sum: part.top1Sum,
        top5Sum: part.top5Sum,
        names,
        grads,
        buffers,
        tensors: tf.memory().numTensors,
        ms: performance.now() - started,
      };
    } catch (e) {
      tf.dispose([x, y]);
      throw e;
    }
  };

  port.on('message', (job: WorkerJob) => {
    let reply: WorkerMessage;
    try {
      reply = job.kind === 'eval' ? evaluate(job) : run(job);
    } catch (e) {
      const err = e as Error;
      send({ kind: 'error', message: err?.message ?? String(e), stack: err?.stack });
      return;
    }
    send(
      reply,
      reply.kind === 'result'
        ? [...reply.grads, ...reply.buffers.data].map((g) => g.buffer as ArrayBuffer)
        : [],
    );
  });
  send({
    kind: 'ready',
    manifest: [...vars].map(([name, v]) => ({ name, shape: [...v.shape] })),
  });
}
