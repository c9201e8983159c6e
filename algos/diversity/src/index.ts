import 'reflect-metadata';
import { BilevelArchTrainer } from '@tsnas/algo-darts';
import { defineAlgo } from '@tsnas/runner';
import { DivnasModelDescBuilder } from './builder.js';
import { DivOp } from './div-op.js';
import { DivnasFinalizers, DivnasRankFinalizers } from './finalizers.js';
import { registerDivnas } from './register.js';

export { type DivnasBuilderOptions, DivnasModelDescBuilder } from './builder.js';
export {
  attachKernelCollectors,
  type CollectOptions,
  collectKernels,
  type NodeKernelEntry,
  nodeOpKeys,
} from './collect.js';
export {
  ALPHA_RANKED_FINALIZERS,
  ARCH_TRAINERS,
  checkFinalizerFor,
  type DivnasArchTrainerName,
  type DivnasConf,
  readDivnasConf,
} from './conf.js';
export { type ActivationCollector, DivOp, type OpActivation } from './div-op.js';
export {
  type Candidate,
  DivnasFinalizers,
  DivnasRankFinalizers,
  type NodeSelection,
  nodeCandidates,
  rankByAlpha,
  selectByMutualInformation,
} from './finalizers.js';
export {
  DISTANCE_QUANTILES,
  MEDIAN_SIGMA_GRID,
  NodeKernel,
  type OpKey,
  opLabel,
  quantiles,
  type SigmaSetting,
} from './kernel.js';
export {
  type BestSubset,
  bruteForceBestSubset,
  combinations,
  logDetCholesky,
  mutualInformation,
  regularize,
  type SquareMatrix,
  submatrix,
} from './mi.js';
export { registerDivnas } from './register.js';

/** DivNAS (Archai's divnas) as a tsnas plug-in: `nas diversity`. */
export default defineAlgo({
  name: 'diversity',
  description:
    'DivNAS: DARTS supernet search, then per node the ops whose activations are most informative (RBF-kernel mutual information)',
  config: new URL('../configs/diversity.yaml', import.meta.url),
  fullConfig: new URL('../configs/diversity_full.yaml', import.meta.url),
  toyConfig: new URL('../configs/diversity_toy.yaml', import.meta.url),
  builder: DivnasModelDescBuilder,
  archTrainer: BilevelArchTrainer,
  finalizers: { mi: DivnasFinalizers, mi_ranked: DivnasRankFinalizers },
  ops: {
    div_op: (desc, { affine, archParams, create }) => new DivOp(desc, affine, archParams, create),
  },
  // `nas.search.divnas.archtrainer: noalpha` replaces the builder and arch trainer above, chosen
  // from the resolved profile when the run's container is made.
  register: (c, conf) => {
    registerDivnas(c, conf);
  },
});
