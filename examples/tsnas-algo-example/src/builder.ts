import {
  type BuiltNodes,
  type CellType,
  CellType as CellTypes,
  type ConfCell,
  ConvMacroParams,
  EdgeDesc,
  ModelDescBuilder,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from '@tsnas/descs';

export interface ChainCellOptions {
  /** The op on the edge from the newest state (default: this plug-in's conv_3x3_bn_relu). */
  convOp?: string;
  /** The op on the edge from the state before it (default: skip_connect). */
  skipOp?: string;
}

/**
 * A fixed cell, the same in every cell of a type: node i reads the newest state i + 1 through
 * `convOp` and the state before it, i, through `skipOp` (a ResNet-like chain). As in DARTS, edges
 * from the two cell inputs (states 0 and 1) of a reduction cell have stride 2.
 * With a template (the eval build) the base class copies the template's cells, so nothing here runs.
 */
export class ChainCellBuilder extends ModelDescBuilder {
  readonly convOp: string;
  readonly skipOp: string;

  constructor(opts: ChainCellOptions = {}) {
    super();
    this.convOp = opts.convOp ?? 'conv_3x3_bn_relu';
    this.skipOp = opts.skipOp ?? 'skip_connect';
  }

  override buildNodes(
    _stemShapes: TensorShapes,
    _confCell: ConfCell,
    _cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): BuiltNodes {
    const reduction = cellType === CellTypes.Reduction;
    const c = outShape[0];
    const edge = (name: string, input: number) =>
      new EdgeDesc(
        new OpDesc(name, { conv: new ConvMacroParams(c, c), stride: reduction && input < 2 ? 2 : 1 }, 1),
        [input],
      );
    const nodes: NodeDesc[] = [];
    for (let i = 0; i < nodeCount; i++) {
      nodes.push(
        new NodeDesc(
          [edge(this.convOp, i + 1), edge(this.skipOp, i)],
          new ConvMacroParams(inShape[0], outShape[0]),
        ),
      );
    }
    return { nodeShapes: nodes.map(() => [...outShape]), nodes };
  }
}
