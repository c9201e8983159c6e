// What the run asks of the backend: its choice, TensorFlow's thread pools sized against the
// gradient threads, and the network size `auto` weighs (small networks run faster on wasm than on
// a CPU-only TensorFlow; see AUTO_TENSORFLOW_MIN_WORKLOAD).
import { availableParallelism } from 'node:os';
import type { BackendChoice, InitBackendOptions } from '@tsnas/backend';
import { createDatasetRegistry } from '@tsnas/datasets';
import { resolveWorkers } from '@tsnas/trainer';

interface ModelDescSizes {
  n_cells?: number;
  model_stems?: { init_node_ch?: number };
}

/** Activations per sample of the network a run trains first: cells x channels x height x width. */
export function runWorkload(conf: any, evalOnly: boolean): number | undefined {
  const md: ModelDescSizes | undefined = evalOnly ? conf.nas?.eval?.model_desc : conf.nas?.search?.model_desc;
  const cells = Number(md?.n_cells);
  const channels = Number(md?.model_stems?.init_node_ch);
  let size: [number, number] | undefined;
  try {
    size = createDatasetRegistry().get(String(conf.dataset?.name)).meta.imageSize;
  } catch {
    return undefined; // a plug-in's dataset: no size known here
  }
  if (!(cells > 0 && channels > 0)) return undefined;
  return cells * channels * size[0] * size[1];
}

/** initBackend's options for a run. */
export function runBackendOptions(conf: any, backend: BackendChoice, evalOnly: boolean): InitBackendOptions {
  const workers = resolveWorkers(conf.common?.workers);
  const tfConf = conf.common?.tensorflow ?? {};
  const intra = Number(tfConf.intra_op_threads) || Math.max(1, Math.floor(availableParallelism() / workers));
  const inter = Number(tfConf.inter_op_threads) || 1;
  const workload = runWorkload(conf, evalOnly);
  return {
    backend,
    tensorflow: { intraOpThreads: intra, interOpThreads: inter },
    ...(workload !== undefined ? { workload } : {}),
  };
}
