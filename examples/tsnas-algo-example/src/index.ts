// An algorithm plug-in for tsnas: `nas example` builds a fixed chain cell from a new op. The
// default export is the plug-in object; everything else is exported for tests and reuse.
import { registerOp } from '@tsnas/ops';
import { ARCH_TRAINER, defineAlgo, MODEL_DESC_BUILDER } from '@tsnas/runner';
import { ChainCellBuilder } from './builder.js';
import { Conv3x3BnRelu } from './op.js';

export { ChainCellBuilder, type ChainCellOptions } from './builder.js';
export { Conv3x3BnRelu } from './op.js';

export default defineAlgo({
  name: 'example',
  description: 'example plug-in: a fixed chain cell of conv_3x3_bn_relu and skip_connect edges',
  config: new URL('../configs/example.yaml', import.meta.url),
  toyConfig: new URL('../configs/example_toy.yaml', import.meta.url),
  register(c) {
    c.register(MODEL_DESC_BUILDER, { useValue: new ChainCellBuilder() });
    // Nothing to search: the built desc is final (the runner's Searcher skips arch training).
    // A factory, because tsyringe takes `{ useValue: null }` for a class provider.
    c.register(ARCH_TRAINER, { useFactory: () => null });
    // Ops live in the run's container: another run in this process never sees this one.
    registerOp(
      c,
      'conv_3x3_bn_relu',
      (desc, affine) => new Conv3x3BnRelu(desc, affine),
      'tsnas-algo-example',
    );
  },
});
