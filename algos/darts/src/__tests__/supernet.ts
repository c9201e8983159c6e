// The tiny DARTS supernet the plug-in's tests build: 3 cells (normal, reduction, normal) of 2
// nodes, 4 channels, on 3-channel images of 4 classes, through this plug-in's own container.
import 'reflect-metadata';
import { seedEverything } from '@tsnas/backend';
import type { ConfModelDesc, ModelDesc } from '@tsnas/descs';
import { Model } from '@tsnas/ops';
import { builtinSource, createRunContainer } from '@tsnas/runner';
import type { DependencyContainer } from 'tsyringe';
import { DartsModelDescBuilder } from '../builder.js';
import darts from '../index.js';

/** The supernet's model_desc section; `params` as model_desc.params (e.g. pool_bn). */
export function tinySupernetConf(params: Record<string, unknown> = {}): ConfModelDesc {
  return {
    dataset: { name: 'tiny', channels: 3, n_classes: 4 },
    n_reductions: 1,
    n_cells: 3,
    max_final_edges: 2,
    model_post_op: 'pool_adaptive_avg2d',
    params,
    aux_weight: 0,
    aux_tower_stride: 3,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
    cell: { n_nodes: 2, cell_post_op: 'concate_channels' },
  };
}

/** A run container holding this plug-in, as `nas darts` makes one. */
export function dartsContainer(): DependencyContainer {
  return createRunContainer(builtinSource(darts, new URL('../../package.json', import.meta.url)));
}

/** The supernet desc built by the plug-in's builder. */
export function tinySupernetDesc(params: Record<string, unknown> = {}): ModelDesc {
  return new DartsModelDescBuilder().build(tinySupernetConf(params));
}

/** A search-mode supernet (affine-free BN, no drop path) with weights drawn from `seed`. */
export function tinySupernet(
  params: Record<string, unknown> = {},
  seed = 3,
  desc = tinySupernetDesc(params),
  container = dartsContainer(),
): Model {
  seedEverything(seed);
  return new Model(desc, { container, affine: false, droppath: false });
}
