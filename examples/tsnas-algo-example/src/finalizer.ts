import type { NodeDesc } from '@tsnas/descs';
import type { Model } from '@tsnas/ops';
import { DefaultFinalizers, type FinalizeContext } from '@tsnas/runner';

type NodeRuntime = Model['cells'][number]['nodes'][number];

/**
 * `by_input`: keeps what the default finalizer keeps, with each node's edges in the order of the
 * states they read (oldest first), so that the same cell always prints as the same genotype.
 */
export class ByInputFinalizers extends DefaultFinalizers {
  protected override finalizeNode(
    node: NodeRuntime,
    index: number,
    nodeDesc: NodeDesc,
    maxFinalEdges: number,
    ctx: FinalizeContext,
  ): NodeDesc {
    const kept = super.finalizeNode(node, index, nodeDesc, maxFinalEdges, ctx);
    kept.edges.sort((a, b) => Math.min(...a.inputIds) - Math.min(...b.inputIds));
    return kept;
  }
}
