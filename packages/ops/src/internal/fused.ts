// One gradient-tape node for a whole composite layer (ReLU -> conv -> BN ...), so that tfjs keeps
// only the few tensors the hand-written backward needs instead of every intermediate, and creates
// one gradient tensor per layer instead of one per kernel. Built on the engine mechanism behind
// tf.customGrad, with two differences: gradients are computed lazily per input (the DARTS arch
// step asks for the alphas only, so no weight gradient is computed there), and a backward may
// differentiate a small piece of its own forward with an isolated tape.
import * as tf from '@tensorflow/tfjs-core';

type Thunk = () => tf.Tensor;

/** The tfjs 4.22 engine members used here (private in its typings, stable in the pinned version). */
interface EngineInternals {
  state: {
    activeTape: { outputs: tf.Tensor[]; saved?: tf.Tensor[] }[] | null;
    gradientDepth: number;
    kernelDepth: number;
    tensorInfo: WeakMap<object, { backend: tf.KernelBackend }>;
  };
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: tf.KernelBackend): tf.Tensor;
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, Thunk>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
  gradients(
    f: () => tf.Tensor,
    xs: tf.Tensor[],
    dy?: tf.Tensor,
    allowNoGradients?: boolean,
  ): { value: tf.Tensor; grads: tf.Tensor[] };
}

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** Whether ops run now are recorded for a gradient. */
export function isTaping(): boolean {
  return tf.engine().isTapeOn();
}

/**
 * Values a backward computes on demand and shares between the gradients of one node (e.g. the
 * gradient at a layer's output feeds both the layer's weight gradient and the next input
 * gradient). They outlive the per-input tidy scopes tfjs runs each gradient in and are freed when
 * the next fused node's backward starts; the last ones when tfjs frees the tape's saved tensors,
 * because they are registered in the node's `saved` list.
 */
export class Memo {
  private readonly values = new Map<string, tf.Tensor[]>();
  constructor(private readonly saved: tf.Tensor[]) {}

  get(key: string, compute: () => tf.Tensor): tf.Tensor {
    return this.getAll(key, () => [compute()])[0];
  }

  getAll(key: string, compute: () => tf.Tensor[]): tf.Tensor[] {
    let v = this.values.get(key);
    if (!v) {
      v = compute();
      for (const t of v) {
        tf.keep(t);
        this.saved.push(t);
      }
      this.values.set(key, v);
    }
    return v;
  }

  dispose(): void {
    for (const v of this.values.values()) for (const t of v) t.dispose();
    this.values.clear();
  }
}

// tfjs runs a node's input gradients right after its backward returns them and before it moves to
// the next node, so when a fused backward starts, every earlier memo is finished with.
let liveMemos: Memo[] = [];

function flushMemos(): void {
  for (const m of liveMemos) m.dispose();
  liveMemos = [];
}

/**
 * A new tensor object sharing `t`'s data (tf.clone copies on wasm). Tracked like any new tensor;
 * `keep` also keeps it out of tidy scopes.
 */
export function alias<T extends tf.Tensor>(t: T, keep = false): T {
  const e = engine();
  const backend = e.state.tensorInfo.get(t.dataId)?.backend;
  let out: tf.Tensor;
  try {
    if (!backend) throw new Error('no backend');
    backend.incRef(t.dataId);
    out = e.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, backend);
  } catch {
    out = tf.clone(t); // a backend without reference counting
  }
  return (keep ? tf.keep(out) : out) as T;
}

/**
 * A kept tensor sharing `t`'s data. tfjs saves a tensor for the backward by cloning it, and the
 * wasm backend's clone copies the data; a shared reference costs no memory.
 */
function sharedRef(t: tf.Tensor): tf.Tensor {
  return alias(t, true);
}

/**
 * Runs `forward` as one tape node with inputs `inputs`. `forward` runs untaped and may call `save`
 * once with the tensors its backward needs (kept by reference, not copied). `backward(dy, saved,
 * memo)` returns one gradient thunk per input, in order; tfjs calls only those of inputs the
 * requested gradient depends on. A returned gradient must be a new tensor object (`alias` memo values).
 */
export function fusedOp<T extends tf.Tensor>(
  inputs: tf.Tensor[],
  forward: (save: (tensors: tf.Tensor[]) => void) => T,
  backward: (dy: T, saved: tf.Tensor[], memo: Memo) => Thunk[],
): T {
  const e = engine();
  const taping = tf.engine().isTapeOn();
  const inputMap: Record<string, tf.Tensor> = {};
  inputs.forEach((t, i) => {
    inputMap[i] = t;
  });
  let refs: tf.Tensor[] = [];
  const y = e.runKernelFunc({
    forwardFunc: () =>
      forward((tensors) => {
        if (taping) refs = tensors.map(sharedRef);
      }),
    backwardsFunc: (dy, saved) => {
      flushMemos();
      const memo = new Memo(saved);
      liveMemos.push(memo);
      const thunks = backward(dy as T, saved, memo);
      const out: Record<string, Thunk> = {};
      thunks.forEach((t, i) => {
        out[i] = t;
      });
      return out;
    },
    inputs: inputMap,
  }) as T;
  if (refs.length > 0) {
    // The node tfjs just recorded; its `saved` list is what backwardsFunc receives and what tfjs
    // frees with the tape.
    const tape = e.state.activeTape;
    const node = tape?.[tape.length - 1];
    if (!node || node.outputs[0] !== y || !node.saved) {
      tf.dispose(refs);
      throw new Error('fusedOp: the recorded tape node was not found (tfjs internals changed?)');
    }
    node.saved.push(...refs);
  }
  return y;
}

/**
 * Gradients of `f` at `xs` times `dy`, on a tape of their own. Meant for a backward that
 * differentiates a small piece of its forward again: tfjs would otherwise start its tape over the
 * outer one, which it still has to clean up.
 */
export function isolatedGradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const e = engine();
  const outer = e.state.activeTape;
  const { gradientDepth, kernelDepth } = e.state;
  // A backward runs with the tape off; recording needs depth 0 -> 1 and no enclosing kernel.
  e.state.gradientDepth = 0;
  e.state.kernelDepth = 0;
  try {
    const { value, grads } = e.gradients(f, xs, dy, true);
    value.dispose();
    return grads.map((g, i) => g ?? tf.zerosLike(xs[i]));
  } finally {
    e.state.activeTape = outer;
    e.state.gradientDepth = gradientDepth;
    e.state.kernelDepth = kernelDepth;
  }
}

/**
 * Constant tensors (reciprocal window counts, ones vectors, box filters) made once per key and
 * backend. They are kept out of every tidy scope; `clear()` frees them (Model.dispose calls it).
 */
class ConstantCache {
  private readonly values = new Map<string, tf.Tensor>();

  get<T extends tf.Tensor>(key: string, make: () => T): T {
    const k = `${tf.getBackend()}|${key}`;
    let v = this.values.get(k);
    if (!v || v.isDisposed) {
      v = tf.keep(tf.tidy(make));
      this.values.set(k, v);
    }
    return v as T;
  }

  get size(): number {
    return this.values.size;
  }

  clear(): void {
    for (const v of this.values.values()) v.dispose();
    this.values.clear();
  }
}

export const constants = new ConstantCache();

/** Frees the cached constant tensors of every op (they are rebuilt on demand). */
export function disposeConstants(): void {
  constants.clear();
}
