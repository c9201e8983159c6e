// One pass over a batch source with activation collection switched on in every DivOp: each node's
// kernel is updated from inside the forward pass (no second pass), as soon as all of the node's
// edges have produced their outputs for the batch.
import type { CellNode, Model } from '@tsnas/ops';
import type { BatchSource } from '@tsnas/trainer';
import * as tf from '@tensorflow/tfjs-core';
import { DivOp, type OpActivation } from './div-op.js';
import { NodeKernel, type OpKey, type SigmaSetting } from './kernel.js';

export interface NodeKernelEntry {
  cellIndex: number;
  cellId: number;
  nodeIndex: number;
  node: CellNode;
  kernel: NodeKernel;
}

function divOpsOf(node: CellNode): DivOp[] | null {
  const ops = node.edges.map((e) => e.op);
  return ops.length > 0 && ops.every((op) => op instanceof DivOp) ? (ops as DivOp[]) : null;
}

/** The kernel rows of a node: edge by edge, each edge's primitives except `none`. */
export function nodeOpKeys(ops: readonly DivOp[]): OpKey[] {
  return ops.flatMap((op, edge) =>
    op.primitives.filter((p) => p !== 'none').map((primitive) => ({ edge, primitive })),
  );
}

/**
 * Attaches a collector to every DivOp of every node whose edges are all DivOps. Returns the kernels
 * (one per node) and a function that detaches the collectors again.
 */
export function attachKernelCollectors(
  model: Model,
  sigma: SigmaSetting,
): { entries: NodeKernelEntry[]; detach: () => void; reset: () => void } {
  const entries: NodeKernelEntry[] = [];
  const attached: DivOp[] = [];
  const resets: (() => void)[] = [];
  model.cells.forEach((cell, cellIndex) => {
    cell.nodes.forEach((node, nodeIndex) => {
      const ops = divOpsOf(node);
      if (!ops) return;
      const kernel = new NodeKernel(nodeOpKeys(ops), sigma);
      entries.push({ cellIndex, cellId: cell.desc.id, nodeIndex, node, kernel });
      // The node's edges run one after another within the cell's forward; their outputs stay alive
      // until the cell's tidy scope ends, so holding references until the last edge is free.
      const pending: (readonly OpActivation[] | null)[] = ops.map(() => null);
      resets.push(() => pending.fill(null));
      ops.forEach((op, edge) => {
        op.collector = (acts) => {
          pending[edge] = acts;
          if (pending.some((p) => p === null)) return;
          const features: tf.Tensor[] = new Array(kernel.size);
          pending.forEach((edgeActs, e) => {
            for (const a of edgeActs!) features[kernel.rowOf({ edge: e, primitive: a.primitive })] = a.output;
          });
          pending.fill(null);
          kernel.addBatch(features);
        };
        attached.push(op);
      });
    });
  });
  return {
    entries,
    detach: () => {
      for (const op of attached) op.collector = null;
    },
    reset: () => {
      for (const r of resets) r();
    },
  };
}

export interface CollectOptions {
  /**
   * Split each batch into this many parts for the forward pass (the search's `batch_chunks`): the
   * kernel is a mean over samples and BN uses its running statistics, so the result is the same,
   * with a smaller peak of live activations.
   */
  chunks?: number;
  /** Called after each batch with (batches done, batches in all). */
  onBatch?: (done: number, total: number) => void;
}

/**
 * Runs the model once over `source` in inference mode (BN running statistics, no gradients) and
 * returns each DivOp node's kernel, averaged over every sample of every batch.
 */
export function collectKernels(
  model: Model,
  source: BatchSource,
  sigma: SigmaSetting,
  opts: CollectOptions = {},
): NodeKernelEntry[] {
  const { entries, detach, reset } = attachKernelCollectors(model, sigma);
  try {
    let done = 0;
    const chunks = Math.max(1, Math.floor(opts.chunks ?? 1));
    for (const { x, y } of source) {
      try {
        const size = Math.ceil(x.shape[0] / chunks);
        for (let from = 0; from < x.shape[0]; from += size) {
          reset();
          tf.tidy(() => {
            const part =
              chunks === 1
                ? x
                : tf.slice(x, [from, 0, 0, 0], [Math.min(size, x.shape[0] - from), -1, -1, -1]);
            model.forward(part, false);
          });
        }
      } finally {
        x.dispose();
        y.dispose();
      }
      opts.onBatch?.(++done, source.length);
    }
  } finally {
    detach();
  }
  return entries;
}
