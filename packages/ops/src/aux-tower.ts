import * as tf from '@tensorflow/tfjs-core';
import type { AuxTowerDesc } from '@tsnas/descs';
import { avgPoolExcludePad } from './internal/functional.js';
import { BatchNorm2d, Conv2d, Linear } from './layers.js';
import { Module } from './module.js';

/**
 * The auxiliary head (for an 8x8 input at 32x32 resolution): ReLU -> AvgPool(5, stride, pad 0) ->
 * Conv1x1(C->128) -> BN -> ReLU -> Conv2x2(128->768) -> BN(768) -> ReLU -> Linear(768, n_classes).
 * Its BNs are always affine; the BN(768) is Archai's deliberate fix of a DARTS typo.
 */
export class AuxTower extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly linear: Linear;

  constructor(readonly desc: AuxTowerDesc) {
    super();
    this.conv1 = this.addChild('conv1', new Conv2d(desc.chIn, 128, 1));
    this.bn1 = this.addChild('bn1', new BatchNorm2d(128, true));
    this.conv2 = this.addChild('conv2', new Conv2d(128, 768, 2));
    this.bn2 = this.addChild('bn2', new BatchNorm2d(768, true));
    this.linear = this.addChild('linear', new Linear(768, desc.nClasses));
  }

  forward(x: tf.Tensor4D, training: boolean): tf.Tensor2D {
    let y = avgPoolExcludePad(tf.relu(x), 5, this.desc.stride, 0);
    y = tf.relu(this.bn1.forward(this.conv1.forward(y), training));
    y = tf.relu(this.bn2.forward(this.conv2.forward(y), training));
    return this.linear.forward(y);
  }
}
