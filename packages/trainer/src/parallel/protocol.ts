// Messages between the data-parallel engine (main thread) and its replica workers. Everything is
// structured-clone data; typed arrays travel as copies into the worker and are transferred back.
import type { MessagePort } from 'node:worker_threads';
import type { LossConf } from '../gradients.js';

/**
 * How a worker builds its replica: `module` (a URL) exports `factory` (default: 'default'), an
 * async function of `args` (structured-clone data) returning a TrainableModel with the same
 * variable names and shapes as the trainer's model. Whoever knows how the model was made supplies
 * it (the runner: a desc and the plug-ins owning its ops); the engine knows nothing of models.
 */
export interface ReplicaFactory {
  module: string;
  factory?: string;
  args: unknown;
}

/** Everything a worker needs: its replica's factory, the loss, the backend and the seed. */
export interface ReplicaRecipe extends ReplicaFactory {
  /** The training loss (the trainer's label_smoothing, aux_weight). */
  loss: LossConf;
  /** The tfjs backend the worker initialises: the main thread's. */
  backend: 'wasm' | 'cpu' | 'tensorflow';
  /** Seeds the worker's library RNG (weight init is overwritten by the first state sync anyway). */
  seed?: number;
}

/** Variables are named with their kind, so weights and arch params cannot collide. */
export type VarKind = 'w' | 'a' | 'b';

export interface TensorData {
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface WorkerInit {
  recipe: ReplicaRecipe;
  /** 0 pending, 1 a message is waiting on the port, 2 the worker thread is exiting. */
  flag: Int32Array;
  port: MessagePort;
  /** Module of the worker's job loop (`worker.js` next to the engine). */
  entry: string;
  /** tsx's ESM API (a URL), when the engine runs from TypeScript sources (tests). */
  tsx: string | null;
}

export interface GradJob {
  kind: 'grad';
  /** Variables whose value changed since the last job, as `${kind}:${name}`. */
  state: { names: string[]; tensors: TensorData[] };
  x: TensorData;
  y: TensorData & { dtype: 'int32' | 'float32' };
  /** Chunk lengths over the rows sent (in order). */
  lens: number[];
  /** The full batch size: every chunk's loss is weighted by len / batchSize. */
  batchSize: number;
  /** `${kind}:${name}` of the variables to differentiate. */
  vars: string[];
  dropPath: { p: number; seed: number };
}

/** Eval mode (BN running statistics, no gradients) on some rows: validation and test batches. */
export interface EvalJob {
  kind: 'eval';
  state: { names: string[]; tensors: TensorData[] };
  x: TensorData;
  y: TensorData & { dtype: 'int32' | 'float32' };
  /** The loss's label smoothing. */
  smoothing: number;
}

export type WorkerJob = GradJob | EvalJob;

export type WorkerMessage =
  | { kind: 'ready'; manifest: { name: string; shape: number[] }[] }
  | {
      kind: 'result';
      lossSum: number;
      top1Sum: number;
      top5Sum: number;
      names: string[];
      grads: Float32Array[];
      /**
       * The replica's buffers (`b:` names: BN running statistics) after its rows' forward passes,
       * which the main thread averages with its own, weighted by rows.
       */
      buffers: { names: string[]; data: Float32Array[] };
      /** tf.memory().numTensors in the worker after the job (leak checks). */
      tensors: number;
      /** Milliseconds the job took in the worker. */
      ms: number;
    }
  | { kind: 'evaluated'; lossSum: number; top1Sum: number; top5Sum: number; tensors: number }
  | { kind: 'error'; message: string; stack?: string }
  | { kind: 'exit'; code: number; message: string | null };
