import { defineAlgo } from '@tsnas/runner';
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
  builder: RandomModelDescBuilder,
  archTrainer: null, // the built desc is final: no architecture training
  searcher: RandomSearcher,
});
