// A test-only stand-in for the DARTS plug-in's MixedOp: softmax(alphas)-weighted sum of the eight
// DARTS primitives, created through the `create` of the registry that builds it.
import * as tf from '@tensorflow/tfjs-core';
import { globalRng } from '@tsnas/backend';
import {
  type CellType,
  type ConfCell,
  ConvMacroParams,
  EdgeDesc,
  ModelDescBuilder,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
  CellType as CT,
} from '@tsnas/descs';
import {
  type ArchParams,
  type CreateOp,
  ModuleList,
  Op,
  type OpFactory,
  type WeightedOp,
  weightedSum,
} from '../index.js';

export const PRIMITIVES = [
  'max_pool_3x3',
  'avg_pool_3x3',
  'skip_connect',
  'sep_conv_3x3',
  'sep_conv_5x5',
  'dil_conv_3x3',
  'dil_conv_5x5',
  'none',
];

export class TestMixedOp extends Op {
  readonly prims: ModuleList<Op>;
  readonly alphas: tf.Variable;

  constructor(
    desc: OpDesc,
    affine: boolean,
    shared: ArchParams | null,
    create: CreateOp,
    readonly primitives: string[] = PRIMITIVES,
  ) {
    super(desc);
    this.prims = this.addChild('ops', new ModuleList<Op>());
    for (const name of primitives) {
      this.prims.push(create(new OpDesc(name, desc.params, 1), affine));
    }
    if (shared) {
      this.alphas = this.useArchParams(shared).get('alphas');
    } else {
      const init = new Float32Array(primitives.length).map(() => 1e-3 * globalRng().normal());
      this.alphas = this.createArchParams({ alphas: tf.tensor1d(init) }).get('alphas');
    }
  }

  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    const w = tf.unstack(tf.softmax(this.alphas as tf.Tensor1D)) as tf.Scalar[];
    return weightedSum(
      this.prims.items.map((op) => op.forward(x, training)),
      w,
    );
  }

  override ops(): WeightedOp[] {
    const a = this.alphas.dataSync();
    return this.prims.items.map((op, k) => ({ op, weight: a[k] })).sort((p, q) => q.weight - p.weight);
  }

  override canDropPath(): boolean {
    return false;
  }
}

export const testMixedOpFactory: OpFactory = (desc, { affine, archParams, create }) =>
  new TestMixedOp(desc, affine, archParams, create);

export const mixedOpFactoryOf =
  (primitives: string[]): OpFactory =>
  (desc, { affine, archParams, create }) =>
    new TestMixedOp(desc, affine, archParams, create, primitives);

/** DARTS' search cell: node i has edges from states 0..i+1, stride 2 from the cell inputs of reduction cells. */
export class TestDartsBuilder extends ModelDescBuilder {
  override buildNodes(
    _stemShapes: TensorShapes,
    _confCell: ConfCell,
    _cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ) {
    const c = inShape[0];
    const nodes: NodeDesc[] = [];
    const nodeShapes: TensorShapes = [];
    for (let i = 0; i < nodeCount; i++) {
      const edges: EdgeDesc[] = [];
      for (let j = 0; j < i + 2; j++) {
        const stride = cellType === CT.Reduction && j < 2 ? 2 : 1;
        edges.push(new EdgeDesc(new OpDesc('mixed_op', { conv: new ConvMacroParams(c, c), stride }, 1), [j]));
      }
      nodes.push(new NodeDesc(edges, new ConvMacroParams(c, c)));
      nodeShapes.push([...outShape]);
    }
    return { nodes, nodeShapes };
  }
}
