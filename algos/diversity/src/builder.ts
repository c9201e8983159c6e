import { DartsModelDescBuilder } from '@tsnas/algo-darts';
import type { BuiltNodes, CellType, ConfCell, TensorShape, TensorShapes } from '@tsnas/descs';

export interface DivnasBuilderOptions {
  /** Build `div_op`s without alphas (`nas.search.divnas.archtrainer: noalpha`). */
  noalpha?: boolean;
}

/** DARTS' supernet with a `div_op` on every edge (Archai's DivnasModelDescBuilder). */
export class DivnasModelDescBuilder extends DartsModelDescBuilder {
  readonly noalpha: boolean;

  constructor(opts: DivnasBuilderOptions = {}) {
    super('div_op');
    this.noalpha = opts.noalpha ?? false;
  }

  override buildNodes(
    stemShapes: TensorShapes,
    confCell: ConfCell,
    cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): BuiltNodes {
    const built = super.buildNodes(stemShapes, confCell, cellIndex, cellType, nodeCount, inShape, outShape);
    // The desc records the choice, so the supernet desc says what its ops are.
    if (this.noalpha) {
      for (const node of built.nodes) for (const e of node.edges) e.opDesc.params.noalpha = true;
    }
    return built;
  }
}
