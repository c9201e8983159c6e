// Finalizers turn a trained supernet into a discrete architecture (Archai §6.2): per node, each
// edge's op finalizes to one primitive with a rank, rank-null edges are always kept, and ranked
// edges are sorted by rank and cut to max_final_edges.
import { type CellDesc, EdgeDesc, type ModelDesc, NodeDesc } from '@tsnas/descs';
import type { SeededRng } from '@tsnas/backend';
import type { Model } from '@tsnas/ops';
import type { BatchSource } from '@tsnas/trainer';
import { KeyedRegistry } from './keyed-registry.js';

export interface FinalizeContext {
  rng: SeededRng;
  /** The experiment folder, for finalizers that draw pictures (DivNAS heat maps). */
  expDir: string | null;
  /** The search's data (DivNAS collects activations over the search train split). */
  data?: { train: BatchSource | null; val: BatchSource | null } | null;
  /** The resolved `nas.search` section, for finalizer settings. */
  conf?: any;
  /** Progress messages. */
  log?: (message: string) => void;
}

export interface Finalizer {
  finalizeModel(model: Model, desc: ModelDesc, ctx: FinalizeContext): Promise<ModelDesc> | ModelDesc;
}

type CellRuntime = Model['cells'][number];
type NodeRuntime = CellRuntime['nodes'][number];

export class DefaultFinalizers implements Finalizer {
  finalizeModel(model: Model, desc: ModelDesc, ctx: FinalizeContext): ModelDesc | Promise<ModelDesc> {
    const out = desc.clone();
    const cells = model.cells.map((cell, ci) =>
      this.finalizeCell(cell, desc.cellDescs()[ci], desc.maxFinalEdges, ctx),
    );
    out.resetCells(cells, out.auxTowerDescs);
    out.clearTrainables();
    return out;
  }

  protected finalizeCell(
    cell: CellRuntime,
    cellDesc: CellDesc,
    maxFinalEdges: number,
    ctx: FinalizeContext,
  ): CellDesc {
    const nodes = cell.nodes.map((node, i) =>
      this.finalizeNode(node, i, cellDesc.nodes()[i], maxFinalEdges, ctx),
    );
    const c = cellDesc.clone();
    c.resetNodes(nodes, c.nodeShapes, c.postOp, c.outShape);
    return c;
  }

  protected finalizeNode(
    node: NodeRuntime,
    _index: number,
    nodeDesc: NodeDesc,
    maxFinalEdges: number,
    _ctx: FinalizeContext,
  ): NodeDesc {
    const required: EdgeDesc[] = [];
    const ranked: { edge: EdgeDesc; rank: number }[] = [];
    for (const edge of node.edges) {
      const { desc, rank } = edge.op.finalize();
      const e = new EdgeDesc(desc, [...edge.inputIds]);
      if (rank === null) required.push(e);
      else ranked.push({ edge: e, rank });
    }
    // Stable sort: ties keep input order, so the result does not depend on the sort algorithm.
    ranked.sort((a, b) => b.rank - a.rank);
    const kept = [...required, ...ranked.slice(0, maxFinalEdges).map((r) => r.edge)];
    return new NodeDesc(kept, nodeDesc.convParams.clone());
  }
}

/**
 * Archai's RandomFinalizers: per node, sample max_final_edges (edge, primitive) pairs among all
 * non-`none` primitives of all incoming edges; two picks may share an input.
 */
export class RandomFinalizers extends DefaultFinalizers {
  protected override finalizeNode(
    node: NodeRuntime,
    _index: number,
    nodeDesc: NodeDesc,
    maxFinalEdges: number,
    ctx: FinalizeContext,
  ): NodeDesc {
    const pool: EdgeDesc[] = [];
    for (const edge of node.edges) {
      for (const { op } of edge.op.ops()) {
        const d = op.finalize().desc;
        if (d.name !== 'none') pool.push(new EdgeDesc(d, [...edge.inputIds]));
      }
    }
    const picks = ctx.rng.shuffle(pool).slice(0, maxFinalEdges);
    return new NodeDesc(picks, nodeDesc.convParams.clone());
  }
}

/** What a plug-in declares under `finalizers`: a Finalizer class, or a function making one. */
export type FinalizerMaker = (new () => Finalizer) | (() => Finalizer);

/** A class has a prototype carrying `finalizeModel`; an arrow function or plain factory has not. */
function isFinalizerClass(make: FinalizerMaker): make is new () => Finalizer {
  return typeof make.prototype?.finalizeModel === 'function';
}

/**
 * The run's named finalizers (`nas.search.finalizer` picks one). One per run container: a name
 * registered twice is an error naming both owners; an unknown name lists the known ones.
 */
export class FinalizerRegistry {
  private readonly makers = new KeyedRegistry<FinalizerMaker>('finalizer');

  register(name: string, make: FinalizerMaker, owner: string): void {
    this.makers.register(name, make, owner);
  }

  /** A new finalizer named `name` ('' = 'default'). */
  get(name: string, keyPath = 'nas.search.finalizer'): Finalizer {
    const make = this.makers.get(name === '' ? 'default' : name, keyPath);
    return isFinalizerClass(make) ? new make() : make();
  }

  ownerOf(name: string): string | undefined {
    return this.makers.ownerOf(name);
  }

  names(): string[] {
    return this.makers.names();
  }

  static withDefaults(): FinalizerRegistry {
    const r = new FinalizerRegistry();
    r.register('default', DefaultFinalizers, '@tsnas/runner');
    r.register('random', RandomFinalizers, '@tsnas/runner');
    return r;
  }
}
