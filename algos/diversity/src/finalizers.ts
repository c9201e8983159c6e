// DivNAS's finalizers (Archai §7.2). After the search, one inference pass over the search train
// split gives each node an RBF kernel over its (edge, op) candidates; the node keeps the
// max_final_edges ops that are most informative about the others, by Gaussian-process mutual
// information. `mi_ranked` first keeps the better-ranked half of the candidates by raw alpha;
// `mi` considers them all. Two chosen ops may read the same input.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeDesc, type ModelDesc, NodeDesc } from '@tsnas/descs';
import type { Model } from '@tsnas/ops';
import { DefaultFinalizers, type FinalizeContext, UsageError } from '@tsnas/runner';
import { renderHeatmapSvg } from '@tsnas/viz';
import { collectKernels, type NodeKernelEntry } from './collect.js';
import { readDivnasConf } from './conf.js';
import type { DivOp } from './div-op.js';
import { DISTANCE_QUANTILES, type NodeKernel, type OpKey, opLabel, quantiles } from './kernel.js';
import { bruteForceBestSubset, submatrix } from './mi.js';

type NodeRuntime = Model['cells'][number]['nodes'][number];

/** A candidate op of a node with its raw alpha (NaN without alphas). */
export interface Candidate extends OpKey {
  alpha: number;
}

export interface NodeSelection {
  /** The candidates the subset was chosen from, in the order considered. */
  pool: Candidate[];
  chosen: Candidate[];
  /** I(chosen; pool \ chosen), nats. */
  mi: number;
  /** Diagonal jitter that made the pool's kernel positive definite (0: none needed). */
  jitter: number;
}

/** Archai's pre-filter: the m = max(k, floor(n/2)) candidates with the highest raw alpha. */
export function rankByAlpha(candidates: readonly Candidate[], k: number): Candidate[] {
  if (candidates.some((c) => Number.isNaN(c.alpha))) {
    throw new UsageError(
      "finalizer 'mi_ranked' ranks ops by alpha, but the supernet has none (nas.search.divnas.archtrainer: noalpha); use nas.search.finalizer=mi",
    );
  }
  const m = Math.max(k, Math.floor(candidates.length / 2));
  // Stable sort: equal alphas keep edge/primitive order.
  return [...candidates].sort((a, b) => b.alpha - a.alpha).slice(0, m);
}

/**
 * The k candidates of `pool` maximising I(A; pool \ A) under `kernel`. Kernel rows are looked up by
 * (edge, primitive), whatever order `pool` is in.
 */
export function selectByMutualInformation(
  kernel: NodeKernel,
  pool: readonly Candidate[],
  k: number,
): NodeSelection {
  if (pool.length === 0) throw new Error('selectByMutualInformation: no candidates');
  const rows = pool.map((c) => kernel.rowOf(c));
  const sub = submatrix(kernel.matrix(), rows);
  const best = bruteForceBestSubset(sub, Math.min(k, pool.length));
  return { pool: [...pool], chosen: best.subset.map((i) => pool[i]), mi: best.mi, jitter: best.jitter };
}

/** The non-`none` ops of a node's DivOp edges with their raw alphas. */
export function nodeCandidates(ops: readonly DivOp[]): Candidate[] {
  return ops.flatMap((op, edge) => {
    const alphas = op.alphaValues();
    return op.primitives.flatMap((primitive, k) =>
      primitive === 'none' ? [] : [{ edge, primitive, alpha: alphas ? alphas[k] : Number.NaN }],
    );
  });
}

/** `finalizer: mi` — mutual-information selection over every op of the node. */
export class DivnasFinalizers extends DefaultFinalizers {
  protected readonly kernels = new Map<NodeRuntime, NodeKernelEntry>();
  protected readonly selections = new Map<NodeRuntime, NodeSelection>();
  protected readonly finalizerName: string = 'mi';

  /** The candidates the MI selection runs over (all of them here). */
  protected pool(candidates: Candidate[], _k: number): Candidate[] {
    return candidates;
  }

  override async finalizeModel(model: Model, desc: ModelDesc, ctx: FinalizeContext): Promise<ModelDesc> {
    const { sigma } = readDivnasConf(ctx.conf);
    const train = ctx.data?.train;
    if (!train) {
      throw new UsageError(
        `finalizer '${this.finalizerName}' needs the search train split to collect activations; set nas.search.loader.load_train: true`,
      );
    }
    const started = performance.now();
    ctx.log?.(`DivNAS: collecting op activations over ${train.length} batches of the search train split`);
    const entries = collectKernels(model, train, sigma, { chunks: ctx.conf?.trainer?.batch_chunks ?? 1 });
    for (const e of entries) this.kernels.set(e.node, e);
    const seconds = (performance.now() - started) / 1000;
    const medians = entries.map((e) => e.kernel.distanceQuantiles()[3]);
    ctx.log?.(
      `DivNAS: ${entries.length} node kernels from ${entries[0]?.kernel.samples ?? 0} samples in ${seconds.toFixed(1)} s; ` +
        `median op-output distance per node ${fmtRange(medians)}; sigma ${sigma === 'median' ? `median: ${fmtRange(entries.map((e) => e.kernel.sigma))}` : sigma}`,
    );
    const out = await super.finalizeModel(model, desc, ctx);
    if (ctx.expDir) this.writeKernelFiles(join(ctx.expDir, 'search', 'kernels'), entries);
    return out;
  }

  protected override finalizeNode(
    node: NodeRuntime,
    index: number,
    nodeDesc: NodeDesc,
    maxFinalEdges: number,
    ctx: FinalizeContext,
  ): NodeDesc {
    const entry = this.kernels.get(node);
    if (!entry) return super.finalizeNode(node, index, nodeDesc, maxFinalEdges, ctx);
    const ops = node.edges.map((e) => e.op as DivOp);
    const pool = this.pool(nodeCandidates(ops), maxFinalEdges);
    const selection = selectByMutualInformation(entry.kernel, pool, maxFinalEdges);
    this.selections.set(node, selection);
    const edges = selection.chosen.map(
      (c) => new EdgeDesc(ops[c.edge].op(c.primitive).finalize().desc, [...node.edges[c.edge].inputIds]),
    );
    return new NodeDesc(edges, nodeDesc.convParams.clone());
  }

  /** One heat map (SVG) and one JSON file per node: the kernel, its labels, and what was chosen. */
  protected writeKernelFiles(dir: string, entries: readonly NodeKernelEntry[]): void {
    mkdirSync(dir, { recursive: true });
    for (const e of entries) {
      const base = `cell_${e.cellId}_node_${e.nodeIndex}`;
      const labels = e.kernel.labels();
      const matrix = e.kernel.matrix();
      const title = `cell ${e.cellId} node ${e.nodeIndex}: RBF kernel (sigma ${+e.kernel.sigma.toPrecision(4)}, ${e.kernel.samples} samples)`;
      writeFileSync(
        join(dir, `${base}.svg`),
        renderHeatmapSvg(matrix, labels, labels, title, { domain: [0, 1] }),
      );
      const sel = this.selections.get(e.node);
      const json = {
        cell_id: e.cellId,
        cell_index: e.cellIndex,
        node: e.nodeIndex,
        finalizer: this.finalizerName,
        sigma: e.kernel.sigma,
        sigma_setting: e.kernel.sigmaSetting,
        samples: e.kernel.samples,
        labels,
        matrix,
        // Per-sample distances ||f_i[b] - f_j[b]|| between the node's ops: a guide for sigma.
        distance_quantiles: e.kernel
          .distanceQuantiles()
          .map((distance, i) => ({ q: DISTANCE_QUANTILES[i], distance })),
        pool: sel?.pool.map(opLabel) ?? null,
        chosen: sel?.chosen.map(opLabel) ?? null,
        mi: sel?.mi ?? null,
        jitter: sel?.jitter ?? null,
      };
      writeFileSync(join(dir, `${base}.json`), `${JSON.stringify(json, null, 1)}\n`);
    }
  }
}

/** `finalizer: mi_ranked` (the default) — MI selection among the better-ranked half by alpha. */
export class DivnasRankFinalizers extends DivnasFinalizers {
  protected override readonly finalizerName: string = 'mi_ranked';

  protected override pool(candidates: Candidate[], k: number): Candidate[] {
    return rankByAlpha(candidates, k);
  }
}

function fmtRange(values: number[]): string {
  const ok = values.filter((v) => Number.isFinite(v));
  if (ok.length === 0) return 'n/a';
  const [lo, , , mid, , , hi] = quantiles(ok);
  return `${lo.toPrecision(3)}..${hi.toPrecision(3)} (median ${mid.toPrecision(3)})`;
}
