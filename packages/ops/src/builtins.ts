import type { OpFactory } from './factory.js';
import { MultiOp } from './multi-op.js';
import {
  AvgPool2d7x7,
  ConcateChannelsOp,
  ConvBNReLU,
  DilConv,
  FactorizedReduce,
  Identity,
  LinearOp,
  PoolAdaptiveAvg2D,
  PoolMeanTensor,
  PoolOp,
  ProjectChannelsOp,
  ReLUConvBN,
  SepConv,
  SkipConnect,
  StemConv3x3,
  StemConv3x3S4,
  strideOf,
  Zero,
} from './primitives.js';

export const BUILTIN_OWNER = '@tsnas/ops';

/** Archai's `_ops_factory` table (§5), minus the algorithm ops that plug-ins register. */
export const BUILTIN_OPS: Readonly<Record<string, OpFactory>> = Object.freeze({
  max_pool_3x3: (d) => new PoolOp(d, 'max'),
  avg_pool_3x3: (d) => new PoolOp(d, 'avg'),
  skip_connect: (d, { affine }) => new SkipConnect(d, affine),
  sep_conv_3x3: (d, { affine }) => new SepConv(d, 3, 1, affine),
  sep_conv_5x5: (d, { affine }) => new SepConv(d, 5, 2, affine),
  sep_conv_7x7: (d, { affine }) => new SepConv(d, 7, 3, affine),
  dil_conv_3x3: (d, { affine }) => new DilConv(d, 3, strideOf(d), 2, 2, affine),
  dil_conv_5x5: (d, { affine }) => new DilConv(d, 5, strideOf(d), 4, 2, affine),
  convbnrelu_3x3: (d, { affine }) => new ConvBNReLU(d, 3, 1, affine),
  convbnrelu_1x1: (d, { affine }) => new ConvBNReLU(d, 1, 0, affine),
  none: (d) => new Zero(d),
  identity: (d) => new Identity(d),
  prepr_reduce: (d, { affine }) => new FactorizedReduce(d, affine),
  prepr_normal: (d, { affine }) => new ReLUConvBN(d, 1, 1, 0, affine),
  stem_conv3x3: (d, { affine }) => new StemConv3x3(d, affine, false),
  stem_conv3x3Relu: (d, { affine }) => new StemConv3x3(d, affine, true),
  stem_conv3x3_s4: (d, { affine }) => new StemConv3x3S4(d, affine, false),
  stem_conv3x3_s4s2: (d, { affine }) => new StemConv3x3S4(d, affine, true),
  pool_adaptive_avg2d: (d) => new PoolAdaptiveAvg2D(d),
  pool_avg2d7x7: (d) => new AvgPool2d7x7(d),
  pool_mean_tensor: (d) => new PoolMeanTensor(d),
  concate_channels: (d) => new ConcateChannelsOp(d),
  proj_channels: (d, { affine }) => new ProjectChannelsOp(d, affine),
  linear: (d) => new LinearOp(d),
  multi_op: (d, { affine, create }) => new MultiOp(d, affine, create),
});
