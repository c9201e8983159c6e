import 'reflect-metadata';
import { ARCH_TRAINER, defineAlgo, MODEL_DESC_BUILDER } from '@tsnas/runner';
import { registerOp } from '@tsnas/ops';
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
  register(c) {
    c.register(MODEL_DESC_BUILDER, { useValue: new DartsModelDescBuilder() });
    c.register(ARCH_TRAINER, { useValue: BilevelArchTrainer });
    registerOp(
      c,
      'mixed_op',
      (desc, affine, archParams, container) => new MixedOp(desc, affine, archParams, container),
      '@tsnas/algo-darts',
    );
  },
});
