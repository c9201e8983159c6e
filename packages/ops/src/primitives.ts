// The built-in ops of Archai's `operations.py` (§5), NHWC, with PyTorch's paddings and strides.
import * as tf from '@tensorflow/tfjs-core';
import type { ConvMacroParams, OpDesc } from '@tsnas/descs';
import { OpsError } from './errors.js';
import { type ChainLayer, type LayerGradArgs, ReluLayer, runChain } from './internal/chain.js';
import { avgPoolExcludePad, maxPoolPt, subsample } from './internal/functional.js';
import { concatChannels } from './internal/fused-ops.js';
import { BatchNorm2d, Conv2d, Linear } from './layers.js';
import { Op } from './op.js';

function badParam(desc: OpDesc, key: string, expected: string): never {
  throw new OpsError(
    `op '${desc.name}': params.${key} must be ${expected}, got ${JSON.stringify(desc.params[key]) ?? 'undefined'}`,
  );
}

export function convParams(desc: OpDesc): ConvMacroParams {
  const conv = desc.params.conv as ConvMacroParams | undefined;
  const ok = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (!conv || !ok(conv.chIn) || !ok(conv.chOut))
    badParam(desc, 'conv', 'conv params {chIn, chOut} of positive integers');
  return conv;
}

function intParam(desc: OpDesc, key: string, dflt: number, min = 1): number {
  const v = desc.params[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) badParam(desc, key, `an integer >= ${min}`);
  return v;
}

export function strideOf(desc: OpDesc): number {
  return intParam(desc, 'stride', 1);
}

function single(desc: OpDesc, x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
  if (!Array.isArray(x)) return x;
  if (x.length !== 1) throw new OpsError(`op '${desc.name}' takes one input, got ${x.length}`);
  return x[0];
}

function list(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D[] {
  return Array.isArray(x) ? x : [x];
}

/** max_pool_3x3 / avg_pool_3x3: no BN (Archai's PoolBN has its BN commented out). */
export class PoolOp extends Op {
  readonly kernelSize: number;
  readonly padding: number;
  readonly stride: number;
  constructor(
    desc: OpDesc,
    readonly poolType: 'max' | 'avg',
  ) {
    super(desc);
    this.stride = strideOf(desc);
    this.kernelSize = intParam(desc, 'kernel_size', 3);
    this.padding = intParam(desc, 'padding', 1, 0);
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    const t = single(this.desc, x);
    return this.poolType === 'max'
      ? maxPoolPt(t, this.kernelSize, this.stride, this.padding)
      : avgPoolExcludePad(t, this.kernelSize, this.stride, this.padding);
  }
}

export class Identity extends Op {
  constructor(desc: OpDesc) {
    super(desc);
    const conv = desc.params.conv ? convParams(desc) : null;
    if (strideOf(desc) !== 1) badParam(desc, 'stride', '1 for an identity');
    if (conv && conv.chIn !== conv.chOut) badParam(desc, 'conv', 'equal chIn and chOut for an identity');
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    return single(this.desc, x);
  }
  override canDropPath(): boolean {
    return false;
  }
}

/** `none`: x*0, or x[:, ::s, ::s]*0 at stride s. */
export class Zero extends Op {
  readonly stride: number;
  constructor(desc: OpDesc) {
    super(desc);
    this.stride = strideOf(desc);
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    return tf.mul(subsample(single(this.desc, x), this.stride), 0);
  }
}

/**
 * ReLU, two 1x1 stride-2 convs (on x and on x shifted by one pixel), concat, BN. The shifted input
 * is zero-padded at the bottom/right when odd, so both halves have ceil(H/2) rows (Archai's
 * version fails on odd sizes).
 */
export class FactorizedReduce extends Op {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(desc: OpDesc, affine: boolean, chIn = convParams(desc).chIn, chOut = convParams(desc).chOut) {
    super(desc);
    if (chOut % 2 !== 0) badParam(desc, 'conv', 'an even chOut for FactorizedReduce');
    this.conv1 = this.addChild('conv1', new Conv2d(chIn, chOut / 2, 1, { stride: 2 }));
    this.conv2 = this.addChild('conv2', new Conv2d(chIn, chOut / 2, 1, { stride: 2 }));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = single(this.desc, x);
    if (training) return runChain([new ReluLayer(), new FactorizedConvLayer(this), this.bn.layer()], input);
    return this.bn.forward(factorizedConv(tf.relu(input), this.filter()), training);
  }

  /**
   * conv1 and conv2 as one 2x2 stride-2 filter [2, 2, chIn, chOut]: tap (0, 0) feeds the first
   * chOut/2 outputs through conv1, tap (1, 1) (the pixel shifted by one) the rest through conv2.
   */
  filter(): tf.Tensor4D {
    const [, , chIn, half] = this.conv1.weight.shape;
    const w1 = tf.reshape(this.conv1.weight, [chIn, half]);
    const w2 = tf.reshape(this.conv2.weight, [chIn, half]);
    // Padding and adding, not tf.concat: concat is a row-by-row JS copy on wasm.
    const rows = tf.add(
      tf.pad(w1, [
        [0, 3 * chIn],
        [0, half],
      ]),
      tf.pad(w2, [
        [3 * chIn, 0],
        [half, 0],
      ]),
    );
    return tf.reshape(rows, [2, 2, chIn, 2 * half]);
  }
}

/** The 2x2 stride-2 conv of FactorizedReduce; odd sizes get one zero row/column at the end. */
function factorizedConv(r: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D {
  return tf.conv2d(r, filter, 2, factorizedPad(r));
}

function factorizedPad(
  r: tf.Tensor4D,
): [[number, number], [number, number], [number, number], [number, number]] {
  const [, h, w] = r.shape;
  return [
    [0, 0],
    [0, h % 2],
    [0, w % 2],
    [0, 0],
  ];
}

/** FactorizedReduce's two 1x1 stride-2 convs as a chain layer (one conv kernel each way). */
class FactorizedConvLayer implements ChainLayer {
  readonly params: tf.Variable[];
  readonly needsInput = true;
  readonly needsOutput = false;
  readonly isRelu = false;
  constructor(private readonly fr: FactorizedReduce) {
    this.params = [fr.conv1.weight, fr.conv2.weight];
  }
  forward(x: tf.Tensor4D) {
    return { y: factorizedConv(x, this.fr.filter()), state: [] };
  }
  private grads(a: LayerGradArgs) {
    const config = tf.getGradient(tf.Conv2D);
    if (!config) throw new OpsError('no gradient registered for Conv2D');
    const attrs = { strides: 2, pad: factorizedPad(a.input()), dilations: 1, dataFormat: 'NHWC' };
    return config.gradFunc(a.dy, [a.input(), this.fr.filter()], attrs as unknown as tf.NamedAttrMap);
  }
  inputGrad(a: LayerGradArgs): tf.Tensor4D {
    // (tf.depthToSpace of dy times the filter would be exact here but is ~20x slower on wasm.)
    return this.grads(a).x() as tf.Tensor4D;
  }
  paramGrads(a: LayerGradArgs): tf.Tensor[] {
    const full = this.grads(a).filter();
    const [, , chIn, chOut] = full.shape;
    const half = chOut / 2;
    return [
      tf.slice(full, [0, 0, 0, 0], [1, 1, chIn, half]),
      tf.slice(full, [1, 1, 0, half], [1, 1, chIn, half]),
    ];
  }
}

/** skip_connect: identity at stride 1, FactorizedReduce at stride 2; never drop-pathed. */
export class SkipConnect extends Op {
  readonly reduce: FactorizedReduce | null;
  constructor(desc: OpDesc, affine: boolean) {
    super(desc);
    const stride = strideOf(desc);
    const conv = convParams(desc);
    if (stride === 1) {
      if (conv.chIn !== conv.chOut)
        badParam(desc, 'conv', 'equal chIn and chOut for skip_connect at stride 1');
      this.reduce = null;
    } else if (stride === 2) {
      this.reduce = this.addChild('op', new FactorizedReduce(desc, affine));
    } else {
      badParam(desc, 'stride', '1 or 2 for skip_connect');
    }
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    return this.reduce ? this.reduce.forward(x, training) : single(this.desc, x);
  }
  override canDropPath(): boolean {
    return false;
  }
}

/** ReLU -> Conv(k, stride, pad) -> BN (prepr_normal is the 1x1 case). */
export class ReLUConvBN extends Op {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(desc: OpDesc, kernelSize: number, stride: number, padding: number, affine: boolean) {
    super(desc);
    const { chIn, chOut } = convParams(desc);
    this.conv = this.addChild('conv', new Conv2d(chIn, chOut, kernelSize, { stride, padding }));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = single(this.desc, x);
    if (training) return runChain([new ReluLayer(), this.conv.layer(), this.bn.layer()], input);
    return this.bn.forward(this.conv.forward(tf.relu(input)), training);
  }
}

/** Conv(k, stride 1, pad) -> BN -> ReLU (NASBench-101's convbnrelu_*). */
export class ConvBNReLU extends Op {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(desc: OpDesc, kernelSize: number, padding: number, affine: boolean) {
    super(desc);
    const { chIn, chOut } = convParams(desc);
    this.conv = this.addChild('conv', new Conv2d(chIn, chOut, kernelSize, { stride: 1, padding }));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = single(this.desc, x);
    if (training) return runChain([this.conv.layer(), this.bn.layer(), new ReluLayer()], input);
    return tf.relu(this.bn.forward(this.conv.forward(input), training));
  }
}

/** ReLU -> depthwise Conv(k, stride, pad, dilation) -> pointwise 1x1 -> BN. */
export class DilConv extends Op {
  readonly depthwise: Conv2d;
  readonly pointwise: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(
    desc: OpDesc,
    kernelSize: number,
    stride: number,
    padding: number,
    dilation: number,
    affine: boolean,
    chIn = convParams(desc).chIn,
    chOut = convParams(desc).chOut,
  ) {
    super(desc);
    this.depthwise = this.addChild(
      'depthwise',
      new Conv2d(chIn, chIn, kernelSize, { stride, padding, dilation, depthwise: true }),
    );
    this.pointwise = this.addChild('pointwise', new Conv2d(chIn, chOut, 1));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = single(this.desc, x);
    if (training) return runChain(this.layers(), input);
    return this.bn.forward(this.pointwise.forward(this.depthwise.forward(tf.relu(input))), training);
  }

  /** Training-mode layers, for fusing into one tape node. */
  layers(): ChainLayer[] {
    return [new ReluLayer(), this.depthwise.layer(), this.pointwise.layer(), this.bn.layer()];
  }
}

/** Two DilConvs (dilation 1), the first strided: chIn -> chIn -> chOut, as in DARTS. */
export class SepConv extends Op {
  readonly conv1: DilConv;
  readonly conv2: DilConv;
  constructor(desc: OpDesc, kernelSize: number, padding: number, affine: boolean) {
    super(desc);
    const { chIn, chOut } = convParams(desc);
    const stride = strideOf(desc);
    this.conv1 = this.addChild(
      'conv1',
      new DilConv(desc, kernelSize, stride, padding, 1, affine, chIn, chIn),
    );
    this.conv2 = this.addChild('conv2', new DilConv(desc, kernelSize, 1, padding, 1, affine, chIn, chOut));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    if (training) return runChain([...this.conv1.layers(), ...this.conv2.layers()], single(this.desc, x));
    return this.conv2.forward(this.conv1.forward(x, training), training);
  }
}

/** Base of model stems; `reduction` is how much the stem shrinks H and W. */
export abstract class StemBase extends Op {
  constructor(
    desc: OpDesc,
    readonly reduction: number,
  ) {
    super(desc);
  }
  override canDropPath(): boolean {
    return false;
  }
}

/** stem_conv3x3 (Conv3x3 pad 1 -> BN) and stem_conv3x3Relu (-> ReLU). */
export class StemConv3x3 extends StemBase {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(
    desc: OpDesc,
    affine: boolean,
    readonly relu = false,
  ) {
    super(desc, 1);
    const { chIn, chOut } = convParams(desc);
    this.conv = this.addChild('conv', new Conv2d(chIn, chOut, 3, { padding: 1 }));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const input = single(this.desc, x);
    if (training) {
      const layers = [this.conv.layer(), this.bn.layer()];
      return runChain(this.relu ? [...layers, new ReluLayer()] : layers, input);
    }
    const y = this.bn.forward(this.conv.forward(input), training);
    return this.relu ? tf.relu(y) : y;
  }
}

/**
 * stem_conv3x3_s4: Conv3x3 s2 (-> chOut/2) -> BN -> ReLU -> Conv3x3 s2 -> BN (reduction 4);
 * stem_conv3x3_s4s2 adds ReLU -> Conv3x3 s2 -> BN (reduction 8).
 */
export class StemConv3x3S4 extends StemBase {
  private readonly convs: Conv2d[] = [];
  private readonly bns: BatchNorm2d[] = [];
  constructor(desc: OpDesc, affine: boolean, extraS2: boolean) {
    super(desc, extraS2 ? 8 : 4);
    const { chIn, chOut } = convParams(desc);
    if (chOut % 2 !== 0) badParam(desc, 'conv', 'an even chOut for a stride-4 stem');
    const chans: [number, number][] = [
      [chIn, chOut / 2],
      [chOut / 2, chOut],
    ];
    if (extraS2) chans.push([chOut, chOut]);
    chans.forEach(([a, b], i) => {
      this.convs.push(this.addChild(`conv${i + 1}`, new Conv2d(a, b, 3, { stride: 2, padding: 1 })));
      this.bns.push(this.addChild(`bn${i + 1}`, new BatchNorm2d(b, affine)));
    });
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    let y = single(this.desc, x);
    this.convs.forEach((conv, i) => {
      if (i > 0) y = tf.relu(y);
      y = this.bns[i].forward(conv.forward(y), training);
    });
    return y;
  }
}

/** Global pools keep NHWC rank 4: [B, 1, 1, C]. */
export class PoolAdaptiveAvg2D extends Op {
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    return tf.mean(single(this.desc, x), [1, 2], true) as tf.Tensor4D;
  }
  override canDropPath(): boolean {
    return false;
  }
}

/** nn.AvgPool2d(7): stride 7, no padding. */
export class AvgPool2d7x7 extends Op {
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    return tf.avgPool(single(this.desc, x), 7, 7, 'valid');
  }
  override canDropPath(): boolean {
    return false;
  }
}

/** pool_mean_tensor: mean over H and W (kept as [B, 1, 1, C]; `linear` flattens either way). */
export class PoolMeanTensor extends PoolAdaptiveAvg2D {}

/** flatten -> Linear(n_ch, n_classes); returns [B, 1, 1, n_classes] to keep the Op contract. */
export class LinearOp extends Op {
  readonly linear: Linear;
  constructor(desc: OpDesc) {
    super(desc);
    const nCh = intParam(desc, 'n_ch', Number.NaN);
    const nClasses = intParam(desc, 'n_classes', Number.NaN);
    if (Number.isNaN(nCh)) badParam(desc, 'n_ch', 'a positive integer');
    if (Number.isNaN(nClasses)) badParam(desc, 'n_classes', 'a positive integer');
    this.linear = this.addChild('linear', new Linear(nCh, nClasses));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    const y = this.linear.forward(single(this.desc, x));
    return tf.reshape(y, [y.shape[0], 1, 1, y.shape[1]]);
  }
  override canDropPath(): boolean {
    return false;
  }
}

/** Merge ops take the cell's states and combine the last `out_states` of them. */
export abstract class MergeOp extends Op {
  readonly outStates: number;
  constructor(desc: OpDesc) {
    super(desc);
    convParams(desc);
    this.outStates = intParam(desc, 'out_states', Number.NaN);
    if (Number.isNaN(this.outStates)) badParam(desc, 'out_states', 'a positive integer');
  }
  protected lastStates(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    const states = list(x);
    if (states.length < this.outStates) {
      throw new OpsError(`op '${this.desc.name}' merges ${this.outStates} states but got ${states.length}`);
    }
    return concatChannels(states.slice(states.length - this.outStates));
  }
  override canDropPath(): boolean {
    return false;
  }
}

export class ConcateChannelsOp extends MergeOp {
  forward(x: tf.Tensor4D | tf.Tensor4D[]): tf.Tensor4D {
    return this.lastStates(x);
  }
}

/** Concat the last out_states states -> Conv1x1 -> BN. */
export class ProjectChannelsOp extends MergeOp {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(desc: OpDesc, affine: boolean) {
    super(desc);
    const { chIn, chOut } = convParams(desc);
    this.conv = this.addChild('conv', new Conv2d(chIn, chOut, 1));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    return this.bn.forward(this.conv.forward(this.lastStates(x)), training);
  }
}
