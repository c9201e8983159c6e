// What the run asks of the backend: its choice, TensorFlow's thread pools sized against the
// gradient threads, and the work `auto` times on wasm and on a CPU-only TensorFlow build (one
// search iteration of the run's network, as the search runs it).
import { availableParallelism } from 'node:os';
import type { BackendChoice, InitBackendOptions, Workload } from '@tsnas/backend';
import { createDatasetRegistry, DATASET_REGISTRY, type DatasetRegistry } from '@tsnas/datasets';
import type { ModelDescBuilder } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { type GradientEngine, InProcessGradientEngine, modelLoss } from '@tsnas/trainer';
import { createGradientEngine, resolveWorkers } from '@tsnas/trainer/parallel';
import * as tf from '@tensorflow/tfjs-core';
import type { DependencyContainer } from 'tsyringe';
import { modelReplicaRecipe, pluginModulesFor, workerResolveFrom } from './replica-recipe.js';
import { MODEL_DESC_BUILDER } from './tokens.js';

/**
 * One search iteration of the run's network as the search runs it: a weight gradient on the run's
 * gradient engine (data-parallel over `common.workers` threads, each backend with its own
 * replicas) and an architecture gradient in this thread, on random data of the dataset's image
 * size at the search batch size. Undefined for a dataset tsnas has no size for. Building it draws
 * from the global random stream; the search and eval phases reseed first.
 */
export function runWorkload(conf: any, container: DependencyContainer, algo: string): Workload | undefined {
  const md = conf.nas?.search?.model_desc;
  let meta: { imageSize: [number, number]; channels: number; nClasses: number };
  try {
    // The run's registry (plug-in datasets included), or the built-ins for a bare container.
    const registry = container.isRegistered(DATASET_REGISTRY, true)
      ? container.resolve<DatasetRegistry>(DATASET_REGISTRY)
      : createDatasetRegistry();
    meta = registry.get(String(conf.dataset?.name)).meta;
  } catch {
    return undefined; // a dataset with no size known here
  }
  if (md == null) return undefined;
  const batch = Number(conf.nas?.search?.loader?.train_batch) || 32;
  const workers = resolveWorkers(conf.common?.workers);
  const [h, w] = meta.imageSize;
  const sizes = `${md.n_cells} cells of ${md.model_stems?.init_node_ch} channels, batch ${batch}x${h}x${w}x${meta.channels}, ${workers} gradient thread${workers > 1 ? 's' : ''}`;
  return {
    key: `${algo} search iteration: ${sizes}`,
    label: `one search iteration of this run's network (${sizes})`,
    prepare() {
      const desc = container.resolve<ModelDescBuilder>(MODEL_DESC_BUILDER).build(md);
      const model = new Model(desc, { container, affine: false, droppath: false });
      const { engine } = createGradientEngine({
        workers: conf.common?.workers,
        replica: () =>
          modelReplicaRecipe({
            desc,
            affine: false,
            droppath: false,
            plugins: pluginModulesFor(desc, container, workerResolveFrom()),
          }),
        loss: {},
      });
      const x = tf.randomNormal([batch, h, w, meta.channels], 0, 1, 'float32', 1) as tf.Tensor4D;
      const y = tf.randomUniform([batch], 0, meta.nClasses, 'int32', 2) as tf.Tensor1D;
      const loss = (xs: tf.Tensor4D, ys: tf.Tensor1D) => modelLoss(model, xs, ys, true, {});
      const grads = (vars: Map<string, tf.Variable>, on: GradientEngine) => {
        if (vars.size === 0) return;
        const r = on.compute(model, { x, y, vars, chunks: 1, loss, zerosForMissing: true });
        for (const g of r.grads.values()) g.dispose();
      };
      const local = new InProcessGradientEngine();
      return {
        step: () => {
          grads(model.archParams(), local);
          grads(model.weights(), engine);
        },
        dispose: () => {
          engine.dispose();
          model.dispose();
          tf.dispose([x, y]);
        },
      };
    },
  };
}

/** initBackend's options for a run. */
export function runBackendOptions(
  conf: any,
  backend: BackendChoice,
  container: DependencyContainer,
  algo: string,
): InitBackendOptions {
  const workers = resolveWorkers(conf.common?.workers);
  const tfConf = conf.common?.tensorflow ?? {};
  const intra = Number(tfConf.intra_op_threads) || Math.max(1, Math.floor(availableParallelism() / workers));
  const inter = Number(tfConf.inter_op_threads) || 1;
  const workload = runWorkload(conf, container, algo);
  return {
    backend,
    tensorflow: { intraOpThreads: intra, interOpThreads: inter },
    ...(workload !== undefined ? { workload } : {}),
  };
}
