// Leaf layers with PyTorch defaults: bias-free convs, BatchNorm2d with running statistics, Linear.
import * as tf from '@tensorflow/tfjs-core';
import {
  BATCH_NORM_GRAD,
  BATCH_NORM_TRAIN,
  fusedBatchNormAvailable,
  fusedPointwiseFilterGradAvailable,
  fusedPointwiseInputGradAvailable,
  POINTWISE_FILTER_GRAD,
  POINTWISE_INPUT_GRAD,
} from '@tsnas/backend';
import { OpsError } from './errors.js';
import type { ChainLayer, LayerForward, LayerGradArgs } from './internal/chain.js';
import { runChain } from './internal/chain.js';
import { alias, isolatedGradients } from './internal/fused.js';
import { conv2dPt, dilatedByRewrite, stridedDilationIsNative } from './internal/functional.js';
import { uniformInit } from './internal/init.js';
import { Module } from './module.js';

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  /** groups == chIn == chOut (PyTorch `groups=ch_in`). */
  depthwise?: boolean;
}

/** nn.Conv2d(bias=False). Weight layout [kh, kw, chIn, chOut] (depthwise: [kh, kw, chIn, 1]). */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly depthwise: boolean;

  constructor(
    readonly chIn: number,
    readonly chOut: number,
    readonly kernelSize: number,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.depthwise = opts.depthwise ?? false;
    if (this.depthwise && chIn !== chOut) {
      throw new OpsError(`depthwise Conv2d needs chIn == chOut, got ${chIn} -> ${chOut}`);
    }
    const k = kernelSize;
    // PyTorch fan_in = (ch_in / groups) * k * k.
    const fanIn = (this.depthwise ? 1 : chIn) * k * k;
    this.weight = this.addWeight('weight', uniformInit([k, k, chIn, this.depthwise ? 1 : chOut], fanIn));
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return conv2dPt(x, this.weight as tf.Tensor4D, this.geometry());
  }

  geometry() {
    return { stride: this.stride, pad: this.padding, dilation: this.dilation, depthwise: this.depthwise };
  }

  /** This conv as a layer of a fused chain. */
  layer(): ChainLayer {
    return new ConvLayer(this);
  }
}

/**
 * Per-channel mean of an NHWC tensor: [C]. A global average pool: on wasm it runs in XNNPACK
 * without the transpose tf.mean does.
 */
export function channelMean(x: tf.Tensor4D): tf.Tensor1D {
  const [b, h, w, c] = x.shape;
  // Kernels called directly: tf.avgPool adds a cast and op bookkeeping, ~5,000 times a step.
  const e = tf.engine();
  const rows = e.runKernel<tf.Tensor>(tf.Reshape, { x }, { shape: [1, b * h, w, c] });
  const pooled = e.runKernel<tf.Tensor>(tf.AvgPool, { x: rows }, {
    filterSize: [b * h, w],
    strides: 1,
    pad: 'valid',
  } as unknown as tf.NamedAttrMap);
  return e.runKernel(tf.Reshape, { x: pooled }, { shape: [c] }) as tf.Tensor1D;
}

/**
 * x * scale + shift per channel, as one 1x1 depthwise convolution (with bias): on wasm one
 * XNNPACK kernel instead of two broadcasting ones, each slower than a plain elementwise op.
 */
export function channelAffine(x: tf.Tensor4D, scale: tf.Tensor1D, shift?: tf.Tensor1D): tf.Tensor4D {
  const c = x.shape[3];
  const filter = tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D;
  if (!shift) return tf.depthwiseConv2d(x, filter, 1, 'valid');
  return tf.fused.depthwiseConv2d({ x, filter, strides: 1, pad: 'valid', bias: shift });
}

function as2d(t: tf.Tensor): tf.Tensor2D {
  const c = t.shape[t.rank - 1];
  return tf.reshape(t, [t.size / c, c]);
}

class ConvLayer implements ChainLayer {
  readonly params: tf.Variable[];
  readonly needsInput = true;
  readonly needsOutput = false;
  readonly isRelu = false;
  private readonly pointwise: boolean;
  /** tfjs can run (and differentiate) this conv as one kernel; otherwise conv2dPt rewrites it. */
  private readonly native: boolean;
  /** Set by forward (a layer object serves one forward call). */
  private inputShape: [number, number, number, number] | null = null;

  constructor(private readonly conv: Conv2d) {
    this.params = [conv.weight];
    const { kernelSize: k, stride, padding, dilation, depthwise } = conv;
    this.pointwise = k === 1 && stride === 1 && padding === 0 && !depthwise;
    this.native = dilation === 1 || (depthwise && (stride === 1 || stridedDilationIsNative()));
  }

  forward(x: tf.Tensor4D): LayerForward {
    this.inputShape = x.shape;
    return { y: this.conv.forward(x), state: [] };
  }

  private attrs() {
    const { stride, padding, dilation } = this.conv;
    return {
      strides: stride,
      pad: padding,
      dilations: dilation,
      dataFormat: 'NHWC',
    } as unknown as tf.NamedAttrMap;
  }

  /**
   * The registered tfjs gradient of the conv kernel (on wasm: @tsnas/backend's kernels). The
   * input gradient reads only x's shape, so `x` may be a shape stub then: the input itself may
   * be a ReLU output that would have to be recomputed.
   */
  private kernelGrad(a: LayerGradArgs, x: tf.Tensor) {
    const name = this.conv.depthwise ? tf.DepthwiseConv2dNative : tf.Conv2D;
    const config = tf.getGradient(name);
    if (!config) throw new OpsError(`no gradient registered for ${name}`);
    return config.gradFunc(a.dy, [x, this.conv.weight], this.attrs()) as Record<string, () => tf.Tensor>;
  }

  /** dx and dW of a conv that tfjs cannot differentiate directly, through conv2dPt's rewrite. */
  private rewriteGrads(a: LayerGradArgs): tf.Tensor[] {
    return a.memo.getAll(`${a.key}rw`, () =>
      isolatedGradients(
        () => dilatedByRewrite(a.input(), this.conv.weight as tf.Tensor4D, this.conv.geometry()),
        [a.input(), this.conv.weight],
        a.dy,
      ),
    );
  }

  inputGrad(a: LayerGradArgs): tf.Tensor4D {
    if (this.pointwise) {
      if (fusedPointwiseInputGradAvailable()) {
        // One native GEMM against the filter as stored, instead of a transpose and a matMul.
        return tf
          .engine()
          .runKernel(POINTWISE_INPUT_GRAD, { dy: a.dy, filter: this.conv.weight }, {}) as tf.Tensor4D;
      }
      const w = tf.reshape(this.conv.weight, [this.conv.chIn, this.conv.chOut]);
      const [b, h, wd] = a.dy.shape;
      return tf.reshape(tf.matMul(as2d(a.dy), tf.transpose(w)), [b, h, wd, this.conv.chIn]);
    }
    if (this.native) {
      const shape = this.inputShape;
      const x = shape ? ({ shape, rank: 4 } as unknown as tf.Tensor) : a.input();
      return this.kernelGrad(a, x).x() as tf.Tensor4D;
    }
    return alias(this.rewriteGrads(a)[0]) as tf.Tensor4D;
  }

  paramGrads(a: LayerGradArgs): tf.Tensor[] {
    if (this.pointwise) {
      if (fusedPointwiseFilterGradAvailable(this.conv.chIn, this.conv.chOut)) {
        // One SIMD pass over x and dy instead of a transpose of x and a matMul.
        const dw = tf.engine().runKernel(POINTWISE_FILTER_GRAD, { x: a.input(), dy: a.dy }, {}) as tf.Tensor;
        return [tf.reshape(dw, this.conv.weight.shape)];
      }
      const dw = tf.matMul(tf.transpose(as2d(a.input())), as2d(a.dy));
      return [tf.reshape(dw, this.conv.weight.shape)];
    }
    if (this.native) return [this.kernelGrad(a, a.input()).filter()];
    return [alias(this.rewriteGrads(a)[1])];
  }
}

/**
 * nn.BatchNorm2d(ch, affine): training normalises with the biased batch variance and updates the
 * running statistics with momentum 0.1 and the unbiased one; eval normalises with the running ones.
 */
export class BatchNorm2d extends Module {
  static readonly MOMENTUM = 0.1;
  static readonly EPS = 1e-5;
  readonly gamma: tf.Variable | null;
  readonly beta: tf.Variable | null;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(
    readonly numFeatures: number,
    readonly affine: boolean,
    readonly momentum = BatchNorm2d.MOMENTUM,
    readonly eps = BatchNorm2d.EPS,
  ) {
    super();
    this.gamma = affine ? this.addWeight('weight', tf.ones([numFeatures])) : null;
    this.beta = affine ? this.addWeight('bias', tf.zeros([numFeatures])) : null;
    this.runningMean = this.addBuffer('running_mean', tf.zeros([numFeatures]));
    this.runningVar = this.addBuffer('running_var', tf.ones([numFeatures]));
  }

  forward(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (!training) return this.normalize(x, this.runningMean, this.runningVar);
    return runChain([this.layer()], x);
  }

  /** This BN in training mode as a layer of a fused chain (batch statistics, running update). */
  layer(): ChainLayer {
    return new BatchNormLayer(this);
  }

  /**
   * Batch-statistics normalisation (untaped, inside a fused chain) and the running-statistics
   * update. Returns xhat = (x - mean) / sqrt(var + eps) as [N, C] and 1 / sqrt(var + eps).
   */
  normalizeBatch(x: tf.Tensor4D): { xhat: tf.Tensor4D; invStd: tf.Tensor1D } {
    const [b, h, w, c] = x.shape;
    const n = b * h * w;
    if (n < 2) {
      // PyTorch raises here too: the unbiased variance of one value is undefined.
      throw new OpsError(
        `BatchNorm2d(${c}): expected more than 1 value per channel when training, got input [${x.shape}]`,
      );
    }
    if (fusedBatchNormAvailable(c)) {
      // One SIMD kernel for the statistics, the normalisation and the running update.
      const [xhat, invStd, nextMean, nextVar] = tf
        .engine()
        .runKernel(
          BATCH_NORM_TRAIN,
          { x, runningMean: this.runningMean, runningVar: this.runningVar },
          { momentum: this.momentum, eps: this.eps },
        ) as unknown as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
      this.runningMean.assign(nextMean);
      this.runningVar.assign(nextVar);
      tf.dispose([nextMean, nextVar]);
      return { xhat, invStd };
    }
    const mean = channelMean(x);
    // Two passes (mean, then mean squared deviation) for accuracy, like PyTorch.
    const variance = channelMean(tf.squaredDifference(x, mean) as tf.Tensor4D);
    const invStd = tf.rsqrt(tf.add(variance, this.eps)) as tf.Tensor1D;
    const m = this.momentum;
    tf.tidy(() => {
      const rm = tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m));
      const rv = tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1)));
      this.runningMean.assign(rm);
      this.runningVar.assign(rv);
    });
    // (x - mean) * invStd as x * invStd - mean * invStd, the form PyTorch's CPU kernel uses too.
    const xhat = channelAffine(x, invStd, tf.neg(tf.mul(mean, invStd)) as tf.Tensor1D);
    return { xhat, invStd };
  }

  // Written out rather than tf.batchNorm: its gradient saves `scale`, which is absent when not affine.
  private normalize(x: tf.Tensor4D, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor4D {
    let scale = tf.rsqrt(tf.add(variance, this.eps));
    if (this.gamma) scale = tf.mul(scale, this.gamma);
    const y = tf.mul(tf.sub(x, mean), scale);
    return (this.beta ? tf.add(y, this.beta) : y) as tf.Tensor4D;
  }
}

/**
 * Training-mode BN in a chain. Backward (scale = gamma / sqrt(var + eps)):
 * dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), dgamma = sum(dy * xhat), dbeta = sum(dy).
 * Without affine, the output is xhat itself, so nothing beyond the output is kept.
 */
class BatchNormLayer implements ChainLayer {
  readonly params: tf.Variable[];
  readonly needsInput = false;
  readonly needsOutput: boolean;
  readonly isRelu = false;

  constructor(private readonly bn: BatchNorm2d) {
    this.params = bn.gamma && bn.beta ? [bn.gamma, bn.beta] : [];
    this.needsOutput = !bn.affine;
  }

  forward(x: tf.Tensor4D): LayerForward {
    const { xhat, invStd } = this.bn.normalizeBatch(x);
    const { gamma, beta } = this.bn;
    if (!gamma || !beta) return { y: xhat, state: [invStd] };
    const y = channelAffine(xhat, gamma as tf.Tensor1D, beta as tf.Tensor1D);
    return { y, state: [tf.mul(invStd, gamma), xhat] };
  }

  private xhat(a: LayerGradArgs): tf.Tensor4D {
    return (this.bn.affine ? a.state[1] : a.output()) as tf.Tensor4D;
  }

  /** [mean(dy), mean(dy * xhat)] per channel, each [C]. */
  private means(a: LayerGradArgs): tf.Tensor1D[] {
    return a.memo.getAll(`${a.key}m`, () => [
      channelMean(a.dy),
      channelMean(tf.mul(a.dy, this.xhat(a)) as tf.Tensor4D),
    ]) as tf.Tensor1D[];
  }

  /** With the fused kernel: [dx, sum(dy), sum(dy * xhat)] from one call, shared by both gradients. */
  private fused(a: LayerGradArgs): tf.Tensor[] | null {
    if (!fusedBatchNormAvailable(a.dy.shape[3])) return null;
    return a.memo.getAll(
      `${a.key}f`,
      () =>
        tf
          .engine()
          .runKernel(
            BATCH_NORM_GRAD,
            { dy: a.dy, xhat: this.xhat(a), scale: a.state[0] },
            {},
          ) as unknown as tf.Tensor[],
    );
  }

  inputGrad(a: LayerGradArgs): tf.Tensor4D {
    const fused = this.fused(a);
    if (fused) return alias(fused[0]) as tf.Tensor4D;
    const [m1, m2] = this.means(a);
    const scale = a.state[0] as tf.Tensor1D;
    // scale * (dy - m1 - xhat * m2) = (dy * scale - m1 * scale) - xhat * (m2 * scale).
    const first = channelAffine(a.dy, scale, tf.neg(tf.mul(m1, scale)) as tf.Tensor1D);
    return tf.sub(first, channelAffine(this.xhat(a), tf.mul(m2, scale) as tf.Tensor1D));
  }

  paramGrads(a: LayerGradArgs): tf.Tensor[] {
    const fused = this.fused(a);
    if (fused) return [alias(fused[2]), alias(fused[1])];
    const [m1, m2] = this.means(a);
    const n = a.dy.size / a.dy.shape[3];
    return [tf.mul(m2, n), tf.mul(m1, n)];
  }
}

/** nn.Linear(nIn, nOut). Weight layout [nIn, nOut] (PyTorch's transposed), bias [nOut]. */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly nIn: number,
    readonly nOut: number,
  ) {
    super();
    this.weight = this.addWeight('weight', uniformInit([nIn, nOut], nIn));
    this.bias = this.addWeight('bias', uniformInit([nOut], nIn));
  }

  forward(x: tf.Tensor): tf.Tensor2D {
    const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
    if (flat.shape[1] !== this.nIn) {
      throw new OpsError(
        `Linear(${this.nIn}, ${this.nOut}): input [${x.shape}] flattens to ${flat.shape[1]} features`,
      );
    }
    return tf.add(tf.matMul(flat, this.weight as tf.Tensor2D), this.bias) as tf.Tensor2D;
  }
}
