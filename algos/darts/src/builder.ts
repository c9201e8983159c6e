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

/**
 * DARTS' supernet builder (Archai §4): node i gets an edge from every earlier state (the two cell
 * stems and nodes 0..i-1), each a `mixed_op`; in reduction cells the edges leaving the two stems
 * have stride 2.
 */
export class DartsModelDescBuilder extends ModelDescBuilder {
  constructor(readonly edgeOp = 'mixed_op') {
    super();
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
    // The DARTS paper's BatchNorm after pooling primitives (model_desc.params.pool_bn; Archai: off).
    const poolBn = this.confModelDesc.params?.pool_bn === true ? { pool_bn: true } : {};
    const nodes: NodeDesc[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const edges: EdgeDesc[] = [];
      for (let j = 0; j < i + 2; j++) {
        const op = new OpDesc(
          this.edgeOp,
          { conv: new ConvMacroParams(c, c), stride: reduction && j < 2 ? 2 : 1, ...poolBn },
          1,
        );
        edges.push(new EdgeDesc(op, [j]));
      }
      nodes.push(new NodeDesc(edges, new ConvMacroParams(inShape[0], outShape[0])));
    }
    return { nodeShapes: nodes.map(() => [...outShape]), nodes };
  }
}
