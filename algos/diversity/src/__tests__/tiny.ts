// A one-cell DivNAS supernet on 4x4 single-channel images, small enough for unit tests.
import type { ConfModelDesc } from '@tsnas/descs';
import { Model, registerOp } from '@tsnas/ops';
import type { Batch, BatchSource } from '@tsnas/trainer';
import * as tf from '@tensorflow/tfjs-core';
import { container } from 'tsyringe';
import { DivnasModelDescBuilder } from '../builder.js';
import { DivOp } from '../div-op.js';

export function tinyConf(nNodes = 1): ConfModelDesc {
  return {
    dataset: { name: 'synthetic', channels: 1, n_classes: 2 },
    n_reductions: 0,
    n_cells: 1,
    max_final_edges: 2,
    model_post_op: 'pool_adaptive_avg2d',
    params: {},
    aux_weight: 0,
    aux_tower_stride: 3,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 1, init_node_ch: 2 },
    cell: { n_nodes: nNodes, cell_post_op: 'concate_channels' },
  };
}

export function tinyModel(opts: { noalpha?: boolean; nNodes?: number } = {}) {
  const c = container.createChildContainer();
  registerOp(
    c,
    'div_op',
    (desc, { affine, archParams, create }) => new DivOp(desc, affine, archParams, create),
    'test',
  );
  const desc = new DivnasModelDescBuilder({ noalpha: opts.noalpha }).build(tinyConf(opts.nNodes ?? 1));
  const model = new Model(desc, { container: c, affine: false, droppath: false });
  return { model, desc, container: c };
}

/** Batches of the given sizes of seeded random 4x4 images. */
export function batchSource(sizes: number[], seed = 1): BatchSource {
  return {
    length: sizes.length,
    setEpoch() {},
    *[Symbol.iterator](): Iterator<Batch> {
      let s = seed;
      for (const b of sizes) {
        yield {
          x: tf.randomNormal([b, 4, 4, 1], 0, 1, 'float32', s++) as tf.Tensor4D,
          y: tf.zeros([b], 'int32') as tf.Tensor1D,
        };
      }
    },
  };
}
