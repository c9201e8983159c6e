import { ARCH_TRAINER, defineAlgo, MODEL_DESC_BUILDER, SEARCHER } from '@tsnas/runner';
import { RandomModelDescBuilder } from './builder.js';
import { RandomSearcher } from './searcher.js';

export { type RandomBuilderOptions, type RandomCells, RandomModelDescBuilder } from './builder.js';
export { RANDOM_PRIMITIVES, type RandOps, sampleRandOps } from './rand-ops.js';
export {
  bestIndex,
  RandomSearcher,
  type SampleBuilder,
  type SampleRow,
  type SamplesTable,
  sampleCount,
} from './searcher.js';

/** Random search (Archai §7.1) as a tsnas plug-in: `nas random`. */
export default defineAlgo({
  name: 'random',
  description:
    'random search: a random DARTS cell per cell type from the seed; samples=N keeps the best of N',
  config: new URL('../configs/random.yaml', import.meta.url),
  fullConfig: new URL('../configs/random_full.yaml', import.meta.url),
  toyConfig: new URL('../configs/random_toy.yaml', import.meta.url),
  register(c) {
    c.register(MODEL_DESC_BUILDER, { useValue: new RandomModelDescBuilder() });
    // No architecture training (null: "the built desc is final"). A factory, because tsyringe
    // takes `{ useValue: null }` for a class provider and fails to resolve it.
    c.register(ARCH_TRAINER, { useFactory: () => null });
    c.register(SEARCHER, { useValue: new RandomSearcher() });
  },
});
