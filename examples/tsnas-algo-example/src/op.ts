import * as tf from '@tensorflow/tfjs-core';
import type { OpDesc } from '@tsnas/descs';
import { BatchNorm2d, Conv2d, convParams, Op, strideOf } from '@tsnas/ops';

/**
 * conv_3x3_bn_relu: Conv 3x3 (padding 1, the edge's stride) -> BatchNorm -> ReLU. Unlike the
 * built-in convbnrelu_3x3 it honours `stride`, so it can sit on the reducing edges of a cell.
 * Weights: 9 * chIn * chOut for the conv (no bias), 2 * chOut for an affine BN.
 */
export class Conv3x3BnRelu extends Op {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(desc: OpDesc, affine: boolean) {
    super(desc);
    const { chIn, chOut } = convParams(desc);
    this.conv = this.addChild('conv', new Conv2d(chIn, chOut, 3, { stride: strideOf(desc), padding: 1 }));
    this.bn = this.addChild('bn', new BatchNorm2d(chOut, affine));
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    // An edge op reads one state; the cell passes it alone or as a one-element list.
    const input = Array.isArray(x) ? x[0] : x;
    return tf.tidy(() => tf.relu(this.bn.forward(this.conv.forward(input), training)));
  }
}
