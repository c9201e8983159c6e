import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import * as tf from '@tensorflow/tfjs-core';
import { type ConfModelDesc, ConvMacroParams, OpDesc } from '@tsnas/descs';

export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** A model_desc profile section with Archai's key names; DARTS paper's CIFAR-10 eval net by default. */
export function conf(overrides: Partial<ConfModelDesc> = {}): ConfModelDesc {
  return {
    dataset: { name: 'cifar10', channels: 3, n_classes: 10 },
    n_reductions: 2,
    n_cells: 20,
    max_final_edges: 2,
    model_post_op: 'pool_adaptive_avg2d',
    params: {},
    aux_weight: 0.4,
    aux_tower_stride: 3,
    model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 36 },
    cell: { n_nodes: 4, cell_post_op: 'concate_channels' },
    ...overrides,
  };
}

export function opDesc(
  name: string,
  chIn: number,
  chOut: number,
  stride = 1,
  extra: Record<string, unknown> = {},
) {
  return new OpDesc(name, { conv: new ConvMacroParams(chIn, chOut), stride, ...extra }, 1);
}

/** Deterministic, non-trivial input values. */
export function ramp(shape: number[], scale = 0.1): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 1.7 + 0.3) * scale * (1 + (i % 5));
  return tf.tensor4d(data, shape as [number, number, number, number]);
}
