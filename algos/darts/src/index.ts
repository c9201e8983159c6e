import 'reflect-metadata';
import { defineAlgo } from '@tsnas/runner';
import { BilevelArchTrainer } from './bilevel.js';
import { DartsModelDescBuilder } from './builder.js';
import { MixedOp } from './mixed-op.js';

export { BilevelArchTrainer, type BilevelTrainerConf } from './bilevel.js';
export { DartsModelDescBuilder } from './builder.js';
export { MixedOp, PoolThenBatchNorm, PRIMITIVES, poolBatchNorm } from './mixed-op.js';

/** DARTS (Liu et al. 2019) as a tsnas plug-in: `nas darts`. */
export default defineAlgo({
  name: 'darts',
  description: 'DARTS: differentiable search over a softmax-relaxed supernet (first or second order)',
  config: new URL('../configs/darts.yaml', import.meta.url),
  fullConfig: new URL('../configs/darts_full.yaml', import.meta.url),
  toyConfig: new URL('../configs/darts_toy.yaml', import.meta.url),
  builder: DartsModelDescBuilder,
  archTrainer: BilevelArchTrainer,
  ops: {
    mixed_op: (desc, { affine, archParams, create }) => new MixedOp(desc, affine, archParams, create),
  },
});
