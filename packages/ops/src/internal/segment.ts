// A segment of the forward pass (one cell) recorded on a tape of its own and entered into the
// outer tape as a single node. tfjs keeps every gradient it computes, and every tensor a node
// saved, until the whole backward pass ends; a segment's backward frees its gradients as soon as
// they are consumed and its saved tensors as soon as it is done, so the backward pass holds one
// cell's gradients at a time instead of the whole network's. Gradients are identical: the
// segment's backward runs the same gradient functions in the same order.
import * as tf from '@tensorflow/tfjs-core';
import { alias } from './fused.js';

type GradMap = Record<string, () => tf.Tensor>;

/** tfjs 4.22's tape node (engine internals, stable in the pinned version). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => GradMap;
}

interface EngineState {
  activeTape: TapeNode[] | null;
  nextTapeNodeId: number;
}

function state(): EngineState {
  return (tf.engine() as unknown as { state: EngineState }).state;
}

/** The nodes on a path from `xs` to `y`, each with only the inputs that depend on `xs`. */
function pathNodes(tape: TapeNode[], xs: Set<number>, y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs);
  const reached = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      reached.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const leads = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      leads.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!reached.has(node.id) || !leads.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * Backpropagates `dy` from `y` to `xs` through `tape`, disposing each intermediate gradient once
 * the node that produced its tensor has consumed it. Returns one gradient per x (zeros where y
 * does not depend on it).
 */
function backprop(tape: TapeNode[], y: tf.Tensor, dy: tf.Tensor, xs: tf.Tensor[]): tf.Tensor[] {
  const xIds = new Set(xs.map((x) => x.id));
  const nodes = pathNodes(tape, xIds, y);
  const grads = new Map<number, tf.Tensor>([[y.id, dy]]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.gradient) {
      throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    }
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    const inputGrads = node.gradient(dys);
    for (const [name, x] of Object.entries(node.inputs)) {
      const thunk = inputGrads[name];
      if (!thunk) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
      let dx = tf.tidy(thunk);
      // A gradient function may hand back dy itself; it is freed below, so keep a reference of its own.
      if (dys.includes(dx)) dx = alias(dx);
      const prev = grads.get(x.id);
      if (prev) {
        grads.set(x.id, tf.add(prev, dx));
        if (prev !== dy) prev.dispose();
        dx.dispose();
      } else {
        grads.set(x.id, dx);
      }
    }
    // Every consumer of this node's outputs came later on the tape, so their gradients are final.
    for (const o of node.outputs) {
      const g = grads.get(o.id);
      if (g && g !== dy && !xIds.has(o.id)) g.dispose();
      grads.delete(o.id);
    }
  }
  return xs.map((x) => {
    const g = grads.get(x.id);
    if (!g) return tf.zerosLike(x);
    return g === dy ? alias(g) : g;
  });
}

/** Whether `t` can carry a gradient to something outside the segment. */
function mayNeedGradient(t: tf.Tensor, outerOutputs: Set<number>): boolean {
  if (t instanceof tf.Variable) return t.trainable;
  return outerOutputs.has(t.id) && t.dtype === 'float32';
}

/**
 * Runs `f` (inside a tidy). While a gradient is being recorded, its ops go to a tape of their own,
 * entered into the outer tape as one node whose inputs are the tensors `f` read that can carry a
 * gradient (trainable variables and outputs of earlier recorded ops).
 */
export function segment(f: () => tf.Tensor): tf.Tensor {
  const st = state();
  const outer = st.activeTape;
  if (!tf.engine().isTapeOn() || !outer) return tf.tidy(f);
  const local: TapeNode[] = [];
  st.activeTape = local;
  let y: tf.Tensor;
  try {
    y = tf.tidy(f);
  } finally {
    st.activeTape = outer;
  }
  const produced = new Set<number>();
  for (const node of local) for (const o of node.outputs) produced.add(o.id);
  const outerOutputs = new Set<number>();
  for (const node of outer) for (const o of node.outputs) outerOutputs.add(o.id);
  const inputs: Record<string, tf.Tensor> = {};
  const seen = new Set<number>();
  let k = 0;
  for (const node of local) {
    for (const t of Object.values(node.inputs)) {
      if (produced.has(t.id) || seen.has(t.id)) continue;
      seen.add(t.id);
      if (mayNeedGradient(t, outerOutputs)) inputs[k++] = t;
    }
  }
  // The outer tape frees `saved` when it is done; the backward below frees it earlier, with what
  // fused nodes added to their own saved lists during it.
  const saved = local.flatMap((node) => node.saved ?? []);
  const freeSaved = () => {
    for (const node of local) for (const t of node.saved ?? []) t.dispose();
  };
  const node: TapeNode = {
    id: st.nextTapeNodeId++,
    kernelName: 'tsnas.Segment',
    inputs,
    outputs: [y],
    saved,
    // tfjs calls node.gradient(dys) on a copy of this node whose `inputs` holds only the inputs
    // the requested gradient depends on: exactly the ones to backpropagate to.
    gradient(this: TapeNode, dys: (tf.Tensor | null)[]): GradMap {
      const names = Object.keys(this.inputs);
      const dy = dys[0] ?? tf.zerosLike(y);
      const xs = names.map((n) => this.inputs[n]);
      const grads = tf.tidy(() => backprop(local, y, dy, xs));
      freeSaved();
      return Object.fromEntries(names.map((n, i) => [n, () => grads[i]]));
    },
  };
  outer.push(node);
  return y;
}
