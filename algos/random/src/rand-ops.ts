import type { SeededRng } from '@tsnas/backend';
import { EDGES_PER_NODE } from '@tsnas/descs';

/** DARTS' candidate operations without `none` (Archai's random search never samples `none`). */
export const RANDOM_PRIMITIVES: readonly string[] = Object.freeze([
  'max_pool_3x3',
  'avg_pool_3x3',
  'skip_connect',
  'sep_conv_3x3',
  'sep_conv_5x5',
  'dil_conv_3x3',
  'dil_conv_5x5',
]);

/** One random cell: per node, the op and the input state of each of its edges. */
export interface RandOps {
  /** ops[i][e]: the op of edge e of node i. */
  ops: string[][];
  /** inputs[i][e]: the state edge e of node i reads (0, 1: cell inputs; 2 + j: node j). */
  inputs: number[][];
}

/**
 * Archai's RandOps (§7.1): for node i, `edgesPerNode` ops drawn with replacement from `primitives`
 * and as many distinct inputs drawn from range(i + 2).
 */
export function sampleRandOps(
  rng: SeededRng,
  nNodes: number,
  primitives: readonly string[] = RANDOM_PRIMITIVES,
  edgesPerNode: number = EDGES_PER_NODE,
): RandOps {
  if (primitives.length === 0) throw new Error('sampleRandOps: no primitives to sample from');
  const ops: string[][] = [];
  const inputs: number[][] = [];
  for (let i = 0; i < nNodes; i++) {
    const states = i + 2;
    if (edgesPerNode > states) {
      throw new Error(
        `sampleRandOps: node ${i} has ${states} possible inputs, cannot pick ${edgesPerNode} distinct ones`,
      );
    }
    ops.push(Array.from({ length: edgesPerNode }, () => primitives[rng.int(primitives.length)]));
    // Partial Fisher-Yates: the first k entries are a uniform sample without replacement, in
    // draw order (like Python's random.sample).
    const pool = Array.from({ length: states }, (_, s) => s);
    for (let e = 0; e < edgesPerNode; e++) {
      const j = e + rng.int(states - e);
      [pool[e], pool[j]] = [pool[j], pool[e]];
    }
    inputs.push(pool.slice(0, edgesPerNode));
  }
  return { ops, inputs };
}
