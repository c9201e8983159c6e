import type * as tf from '@tensorflow/tfjs-core';
import { ConvMacroParams, OpDesc } from '@tsnas/descs';
import { OpsError } from './errors.js';
import { ModuleList } from './module.js';
import { Op } from './op.js';
import { convParams } from './primitives.js';
import type { CreateOp } from './factory.js';

/**
 * multi_op: child k (from `desc.children`, with this op's conv params) runs on input
 * `childrenIns[k]`; outputs are merged by an internal proj_channels (k*C -> C).
 */
export class MultiOp extends Op {
  readonly children: ModuleList<Op>;
  readonly ins: number[];
  readonly proj: Op;

  /** `create` builds the children through the registry that is building this op. */
  constructor(desc: OpDesc, affine: boolean, create: CreateOp) {
    super(desc);
    const kids = desc.children;
    const ins = desc.childrenIns;
    if (!kids || !ins || kids.length !== ins.length || kids.length === 0) {
      throw new OpsError(`op '${desc.name}': needs children and children_ins of the same non-zero length`);
    }
    const conv = convParams(desc);
    this.children = this.addChild('ops', new ModuleList<Op>());
    this.ins = [...ins];
    for (const child of kids) {
      child.params.conv = conv;
      this.children.push(create(child, affine));
    }
    const projDesc = new OpDesc(
      'proj_channels',
      { conv: new ConvMacroParams(conv.chOut * ins.length, conv.chOut), out_states: ins.length },
      1,
    );
    this.proj = this.addChild('proj', create(projDesc, affine));
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const inputs = Array.isArray(x) ? x : [x];
    const outs = this.children.items.map((op, k) => {
      const input = inputs[this.ins[k]];
      if (!input)
        throw new OpsError(
          `op '${this.desc.name}': child ${k} reads input ${this.ins[k]} of ${inputs.length}`,
        );
      return op.forward(input, training);
    });
    return this.proj.forward(outs, training);
  }
}
