import type * as tf from '@tensorflow/tfjs-core';
import type { CellDesc, EdgeDesc } from '@tsnas/descs';
import type { SeededRng } from '@tsnas/backend';
import type { DependencyContainer } from 'tsyringe';
import { DropPath } from './drop-path.js';
import { identity, sumOf } from './internal/fused-ops.js';
import { OpsError } from './errors.js';
import { Module, ModuleList } from './module.js';
import type { Op } from './op.js';
import { createOp } from './registry.js';

export interface CellBuildOptions {
  container: DependencyContainer;
  affine: boolean;
  droppath: boolean;
  dropPathRng: () => SeededRng;
}

/** One edge of a cell's DAG: the op on `inputIds` states, wrapped with DropPath when allowed. */
export class DagEdge extends Module {
  readonly op: Op;
  readonly inputIds: number[];
  readonly dropPath: DropPath | null;

  constructor(desc: EdgeDesc, opts: CellBuildOptions, templateEdge: DagEdge | null) {
    super();
    this.inputIds = [...desc.inputIds];
    const shared = templateEdge ? templateEdge.op.archParams() : null;
    this.op = this.addChild('op', createOp(opts.container, desc.opDesc, opts.affine, shared));
    this.dropPath = opts.droppath && this.op.canDropPath() ? new DropPath(opts.dropPathRng) : null;
  }

  forward(states: tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const inputs = this.inputIds.map((id) => {
      const s = states[id];
      if (!s)
        throw new OpsError(`edge op '${this.op.desc.name}' reads state ${id}, only ${states.length} exist`);
      return s;
    });
    const y = this.op.forward(inputs.length === 1 ? inputs[0] : inputs, training);
    return this.dropPath ? this.dropPath.forward(y, training) : y;
  }
}

export class CellNode extends Module {
  readonly edges: DagEdge[];
  constructor(edges: DagEdge[]) {
    super();
    const list = this.addChild('edges', new ModuleList<DagEdge>());
    for (const e of edges) list.push(e);
    this.edges = list.items;
  }
}

/**
 * s0 and s1 pre-processing ops, then each node sums its edges over the states so far (an empty
 * node repeats the last state), then the post op merges the states.
 */
export class Cell extends Module {
  readonly desc: CellDesc;
  readonly s0Op: Op;
  readonly s1Op: Op;
  readonly nodes: CellNode[];
  readonly postOp: Op;

  /** `template` is the cell whose arch params this one shares (`desc.trainablesFrom`), if another. */
  constructor(desc: CellDesc, opts: CellBuildOptions, template: Cell | null) {
    super();
    this.desc = desc;
    this.s0Op = this.addChild('s0_op', createOp(opts.container, desc.stems[0], opts.affine));
    this.s1Op = this.addChild('s1_op', createOp(opts.container, desc.stems[1], opts.affine));
    const nodeList = this.addChild('nodes', new ModuleList<CellNode>());
    desc.nodes().forEach((nodeDesc, i) => {
      const edges = nodeDesc.edges.map((edgeDesc, j) => {
        let templateEdge: DagEdge | null = null;
        if (template) {
          templateEdge = template.nodes[i]?.edges[j] ?? null;
          if (!templateEdge) {
            throw new OpsError(
              `cell ${desc.id}: node ${i} edge ${j} has no counterpart in cell ${template.desc.id} (trainables_from)`,
            );
          }
        }
        return new DagEdge(edgeDesc, opts, templateEdge);
      });
      nodeList.push(new CellNode(edges));
    });
    this.nodes = nodeList.items;
    this.postOp = this.addChild('post_op', createOp(opts.container, desc.postOp, opts.affine));
  }

  forward(s0: tf.Tensor4D, s1: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const states = [this.s0Op.forward(s0, training), this.s1Op.forward(s1, training)];
    for (const node of this.nodes) {
      if (node.edges.length === 0) {
        states.push(identity(states[states.length - 1]));
        continue;
      }
      const outs = node.edges.map((e) => e.forward(states, training));
      states.push(sumOf(outs));
    }
    return this.postOp.forward(states, training);
  }

  /** The edge ops, node by node (Archai's `Cell.ops`). */
  ops(): Op[] {
    return this.nodes.flatMap((n) => n.edges.map((e) => e.op));
  }
}
