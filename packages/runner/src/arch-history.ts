// What a differentiable search looked like while it ran: after every search epoch, the softmax of
// each edge's architecture weights and the genotype they would give now, one JSON line per epoch in
// search/alphas.jsonl. `nas report` draws the evolution and the epoch the genotype settled from it.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SeededRng } from '@tsnas/backend';
import { CellType, genotypeToString, type ModelDesc, modelDescToGenotype } from '@tsnas/descs';
import type { Model } from '@tsnas/ops';
import { DefaultFinalizers } from './finalizers.js';

export interface ArchEdgeRecord {
  cell: number;
  cell_type: 'normal' | 'reduce';
  /** Index of the node within the cell (node 0 is the cell's first intermediate state). */
  node: number;
  /** The states the edge reads (0 and 1: the cell's inputs). */
  inputs: number[];
  /** Softmax of the edge's architecture weights, by primitive name. */
  weights: Record<string, number>;
}

export interface ArchHistoryRecord {
  epoch: number;
  edges: ArchEdgeRecord[];
  /** The genotype the alphas give now (DARTS' rule: the strongest non-`none` op, top edges per node). */
  genotype: string | null;
}

function softmax(xs: number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * The edges of the cells that own architecture weights (cells sharing another's, as all DARTS
 * cells of a type do, are not repeated); empty for a network without any.
 */
export function archSnapshot(model: Model, desc: ModelDesc, epoch: number): ArchHistoryRecord {
  const edges: ArchEdgeRecord[] = [];
  const cellDescs = desc.cellDescs();
  model.cells.forEach((cell, ci) => {
    if (cellDescs[ci]?.trainablesFrom !== ci) return;
    const cellType = cellDescs[ci].cellType === CellType.Reduction ? 'reduce' : 'normal';
    cell.nodes.forEach((node, ni) => {
      for (const edge of node.edges) {
        const ops = edge.op.ops();
        if (ops.length < 2 || ops.some((o) => !Number.isFinite(o.weight))) continue;
        const w = softmax(ops.map((o) => o.weight));
        const named = ops.map((o, k) => [o.op.finalize().desc.name, w[k]] as const);
        // A stable order (by name) so that successive records list primitives alike.
        named.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        edges.push({
          cell: ci,
          cell_type: cellType,
          node: ni,
          inputs: [...edge.inputIds],
          weights: Object.fromEntries(named),
        });
      }
    });
  });
  let genotype: string | null = null;
  if (edges.length > 0) {
    try {
      const finalized = new DefaultFinalizers().finalizeModel(model, desc, {
        rng: new SeededRng(0),
        expDir: null,
      }) as ModelDesc;
      genotype = genotypeToString(modelDescToGenotype(finalized));
    } catch {
      genotype = null; // not a DARTS-shaped network: the weights are still worth drawing
    }
  }
  return { epoch, edges, genotype };
}

/** Appends one record per search epoch; does nothing for a network without architecture weights. */
export class ArchHistory {
  constructor(readonly file: string) {}

  record(model: Model, desc: ModelDesc, epoch: number): ArchHistoryRecord | null {
    const rec = archSnapshot(model, desc, epoch);
    if (rec.edges.length === 0) return null;
    mkdirSync(dirname(this.file), { recursive: true });
    // A resumed search may append an epoch again (trained again after the crash): readers keep the
    // last line of each epoch.
    appendFileSync(this.file, `${JSON.stringify(rec)}\n`);
    return rec;
  }
}
