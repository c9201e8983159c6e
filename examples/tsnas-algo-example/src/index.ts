// An algorithm plug-in for tsnas: `nas example` builds a fixed chain cell from a new op. The
// default export is the plug-in object, which declares what the plug-in adds; everything else is
// exported for tests and reuse.
import { ARCH_TRAINER, defineAlgo, TRAINER } from '@tsnas/runner';
import { ChainCellBuilder } from './builder.js';
import { ByInputFinalizers } from './finalizer.js';
import { Conv3x3BnRelu } from './op.js';

export { ChainCellBuilder, type ChainCellOptions } from './builder.js';
export { ByInputFinalizers } from './finalizer.js';
export { Conv3x3BnRelu } from './op.js';

/** This plug-in's own profile section, `nas.search.example`. */
interface ExampleSection {
  /** Train the chain's weights during search, then finalize it (nas.search.finalizer). */
  train_supernet?: boolean;
}

export default defineAlgo({
  name: 'example',
  description: 'example plug-in: a fixed chain cell of conv_3x3_bn_relu and skip_connect edges',
  config: new URL('../configs/example.yaml', import.meta.url),
  toyConfig: new URL('../configs/example_toy.yaml', import.meta.url),
  // One new builder per run (builders keep per-build state).
  builder: ChainCellBuilder,
  // Nothing to search by default: the built desc is final (the runner's Searcher skips arch training).
  archTrainer: null,
  // Ops live in the run's container: another run in this process never sees this one.
  ops: {
    conv_3x3_bn_relu: (desc, { affine }) => new Conv3x3BnRelu(desc, affine),
  },
  finalizers: { by_input: ByInputFinalizers },
  // Anything else, with the resolved profile in hand: here, whether search trains the chain.
  register(c, conf) {
    const own = (conf.nas.search as { example?: ExampleSection }).example;
    if (own?.train_supernet === true) c.register(ARCH_TRAINER, { useFactory: () => c.resolve(TRAINER) });
  },
});
