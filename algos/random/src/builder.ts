import { globalRng, type SeededRng } from '@tsnas/backend';
import {
  type BuiltNodes,
  type CellType,
  CellType as CellTypes,
  type ConfCell,
  type ConfModelDesc,
  ConvMacroParams,
  EdgeDesc,
  type ModelDesc,
  ModelDescBuilder,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from '@tsnas/descs';
import { RANDOM_PRIMITIVES, type RandOps, sampleRandOps } from './rand-ops.js';

export interface RandomBuilderOptions {
  /**
   * The random source samples are derived from; default: the library's global one, which the
   * runner's Searcher seeds with `common.seed`. Only its seed matters: sample k draws from
   * `rng().fork('random_cell:k')`, so a sample does not depend on what else used the source.
   */
  rng?: () => SeededRng;
  /** The ops to draw from (default: the 7 non-`none` DARTS primitives). */
  primitives?: readonly string[];
}

/** The two random cells of one sample: every cell of a type gets the same one (Archai §7.1). */
export interface RandomCells {
  normal: RandOps;
  reduction: RandOps;
}

/**
 * Archai's RandomModelDescBuilder: one random cell per cell type, each node with two edges (ops
 * drawn with replacement, distinct inputs), stride 2 on the edges from the cell inputs of a
 * reduction cell. With a template (the eval build) it copies the template like the base builder.
 */
export class RandomModelDescBuilder extends ModelDescBuilder {
  readonly primitives: readonly string[];
  private readonly rng: () => SeededRng;
  private cells: RandomCells | null = null;

  constructor(opts: RandomBuilderOptions = {}) {
    super();
    this.rng = opts.rng ?? globalRng;
    this.primitives = opts.primitives ?? RANDOM_PRIMITIVES;
  }

  /** The cells of sample `k` for cells of `nNodes` nodes; the same seed and k give the same cells. */
  sampleCells(nNodes: number, k = 0): RandomCells {
    const rng = this.rng().fork(`random_cell:${k}`);
    // Normal first, then reduction, as Archai's build_cells draws them.
    const normal = sampleRandOps(rng, nNodes, this.primitives);
    const reduction = sampleRandOps(rng, nNodes, this.primitives);
    return { normal, reduction };
  }

  /** Sample 0, or the template's cells when a template is given. */
  override build(confModelDesc: ConfModelDesc, template: ModelDesc | null = null): ModelDesc {
    return this.buildSample(confModelDesc, 0, template);
  }

  /** The model of sample `k` (random search with several samples builds 0..N-1). */
  buildSample(confModelDesc: ConfModelDesc, k: number, template: ModelDesc | null = null): ModelDesc {
    // Archai resamples during the eval build without using the result; nothing is drawn here.
    this.cells = template ? null : this.sampleCells(confModelDesc.cell.n_nodes, k);
    try {
      return super.build(confModelDesc, template);
    } finally {
      this.cells = null;
    }
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
    if (!this.cells) throw new Error('RandomModelDescBuilder.buildNodes called outside build()');
    const reduction = cellType === CellTypes.Reduction;
    const cell = reduction ? this.cells.reduction : this.cells.normal;
    const c = outShape[0];
    const nodes: NodeDesc[] = [];
    for (let i = 0; i < nodeCount; i++) {
      const edges = cell.ops[i].map((name, e) => {
        const input = cell.inputs[i][e];
        const op = new OpDesc(
          name,
          { conv: new ConvMacroParams(c, c), stride: reduction && input < 2 ? 2 : 1 },
          1,
        );
        return new EdgeDesc(op, [input]);
      });
      nodes.push(new NodeDesc(edges, new ConvMacroParams(inShape[0], outShape[0])));
    }
    return { nodeShapes: nodes.map(() => [...outShape]), nodes };
  }
}
