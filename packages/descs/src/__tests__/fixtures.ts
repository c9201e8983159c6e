// Test-only: the canonical DARTS profiles (Archai confs/algos/darts.yaml, CIFAR-10).
import type { ConfModelDesc } from '../model-desc.js';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: any = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? merge(out[k], v as any) : v;
  }
  return out;
}

/** The search network: 8 cells, 16 channels, Archai's two stems, no aux tower. */
export function dartsSearchConf(overrides?: DeepPartial<ConfModelDesc>): ConfModelDesc {
  return merge(
    {
      dataset: { name: 'cifar10', channels: 3, n_classes: 10 },
      n_cells: 8,
      n_reductions: 2,
      max_final_edges: 2,
      model_post_op: 'pool_adaptive_avg2d',
      params: {},
      aux_weight: 0,
      aux_tower_stride: 3,
      model_stems: { ops: ['stem_conv3x3', 'stem_conv3x3'], stem_multiplier: 3, init_node_ch: 16 },
      cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
    },
    overrides,
  );
}

/** The DARTS paper's evaluation network: 20 cells, 36 channels, one shared stem, aux head. */
export function dartsEvalConf(overrides?: DeepPartial<ConfModelDesc>): ConfModelDesc {
  return merge(
    dartsSearchConf({
      n_cells: 20,
      aux_weight: 0.4,
      model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 36 },
    }),
    overrides,
  );
}
