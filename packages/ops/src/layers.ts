// Leaf layers with PyTorch defaults: bias-free convs, BatchNorm2d with running statistics, Linear.
import * as tf from '@tensorflow/tfjs-core';
import { OpsError } from './errors.js';
import { conv2dPt } from './internal/functional.js';
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
    return conv2dPt(x, this.weight as tf.Tensor4D, {
      stride: this.stride,
      pad: this.padding,
      dilation: this.dilation,
      depthwise: this.depthwise,
    });
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
    const [b, h, w, c] = x.shape;
    const n = b * h * w;
    if (n < 2) {
      // PyTorch raises here too: the unbiased variance of one value is undefined.
      throw new OpsError(
        `BatchNorm2d(${c}): expected more than 1 value per channel when training, got input [${x.shape}]`,
      );
    }
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const m = this.momentum;
    tf.tidy(() => {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1))));
    });
    return this.normalize(x, mean, variance);
  }

  // Written out rather than tf.batchNorm: its gradient saves `scale`, which is absent when not affine.
  private normalize(x: tf.Tensor4D, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor4D {
    let scale = tf.rsqrt(tf.add(variance, this.eps));
    if (this.gamma) scale = tf.mul(scale, this.gamma);
    const y = tf.mul(tf.sub(x, mean), scale);
    return (this.beta ? tf.add(y, this.beta) : y) as tf.Tensor4D;
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
