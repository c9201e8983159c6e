import 'reflect-metadata';

export { ArchParams } from './arch-params.js';
export { AuxTower } from './aux-tower.js';
export { BUILTIN_OPS, BUILTIN_OWNER } from './builtins.js';
export { Cell, CellNode, DagEdge } from './cell.js';
export { canDropPathByName, DropPath } from './drop-path.js';
export { DuplicateOpError, OpsError, StateError, UnknownOpError } from './errors.js';
export { avgPoolExcludePad, conv2dPt, maxPoolPt, outSize, subsample } from './internal/functional.js';
export { concatChannels, sumOf, weightedSum } from './internal/fused-ops.js';
export { uniformInit } from './internal/init.js';
export { BatchNorm2d, Conv2d, type Conv2dOptions, Linear } from './layers.js';
export { Model, type ModelOptions, type ModelOutput } from './model.js';
export { Module, ModuleList } from './module.js';
export { MultiOp } from './multi-op.js';
export { type FinalizedOp, Op, type WeightedOp } from './op.js';
export {
  AvgPool2d7x7,
  ConcateChannelsOp,
  ConvBNReLU,
  convParams,
  DilConv,
  FactorizedReduce,
  Identity,
  LinearOp,
  MergeOp,
  PoolAdaptiveAvg2D,
  PoolMeanTensor,
  PoolOp,
  ProjectChannelsOp,
  ReLUConvBN,
  SepConv,
  SkipConnect,
  StemBase,
  StemConv3x3,
  StemConv3x3S4,
  strideOf,
  Zero,
} from './primitives.js';
export {
  createOp,
  findOp,
  type CreateOp,
  type OpContext,
  type OpFactory,
  type OpRegistration,
  registerBuiltinOps,
  registeredOps,
  registerOp,
  registerOps,
} from './registry.js';
