// Hand-built cell descriptions for the tests (no builder involved, so the tests pin the data model).
import {
  CellDesc,
  CellType,
  type ConfCell,
  ConvMacroParams,
  EdgeDesc,
  ModelDesc,
  NodeDesc,
  OpDesc,
} from '@tsnas/descs';

const CH = 16;
const conv = () => new ConvMacroParams(CH, CH);

/** [op name, input state] pairs, two per node, as in a DARTS genotype. */
export type GenotypePairs = [string, number][];

// DARTS_V2 from the DARTS paper (genotypes.py), four nodes with two edges each.
export const DARTS_V2_NORMAL: GenotypePairs = [
  ['sep_conv_3x3', 0],
  ['sep_conv_3x3', 1],
  ['sep_conv_3x3', 0],
  ['sep_conv_3x3', 1],
  ['sep_conv_3x3', 1],
  ['skip_connect', 0],
  ['skip_connect', 0],
  ['dil_conv_3x3', 2],
];
export const DARTS_V2_REDUCE: GenotypePairs = [
  ['max_pool_3x3', 0],
  ['max_pool_3x3', 1],
  ['skip_connect', 2],
  ['max_pool_3x3', 1],
  ['max_pool_3x3', 0],
  ['skip_connect', 2],
  ['skip_connect', 2],
  ['max_pool_3x3', 1],
];

const CONF_CELL: ConfCell = { n_nodes: 4, cell_post_op: 'concate_channels' };

export function makeCell(
  id: number,
  cellType: CellType,
  nodesEdges: GenotypePairs[],
  postOpParams: Record<string, unknown> = {},
): CellDesc {
  const reduction = cellType === CellType.Reduction;
  const nodes = nodesEdges.map(
    (pairs) =>
      new NodeDesc(
        pairs.map(
          ([name, input]) =>
            // In a reduction cell the edges reading the two cell inputs halve the resolution.
            new EdgeDesc(new OpDesc(name, { conv: conv(), stride: reduction && input < 2 ? 2 : 1 }, 1), [
              input,
            ]),
        ),
        conv(),
      ),
  );
  const outStates = nodes.length > 0 ? nodes.length : 2;
  return new CellDesc({
    id,
    cellType,
    confCell: { ...CONF_CELL, n_nodes: nodes.length },
    stems: [new OpDesc('prepr_normal', { conv: conv() }, 1), new OpDesc('prepr_normal', { conv: conv() }, 1)],
    stemShapes: [
      [CH, -1, 8, 8],
      [CH, -1, 8, 8],
    ],
    nodes,
    nodeShapes: nodes.map(() => [CH, -1, 8, 8]),
    postOp: new OpDesc(
      'concate_channels',
      { conv: new ConvMacroParams(outStates * CH, outStates * CH), out_states: outStates, ...postOpParams },
      outStates,
    ),
    outShape: [outStates * CH, -1, 8, 8],
    trainablesFrom: id,
  });
}

/** Splits a flat genotype list into nodes of two edges each. */
export function pairsToNodes(pairs: GenotypePairs): GenotypePairs[] {
  const nodes: GenotypePairs[] = [];
  for (let i = 0; i < pairs.length; i += 2) nodes.push(pairs.slice(i, i + 2));
  return nodes;
}

export function makeModel(cellTypes: CellType[]): ModelDesc {
  const cells = cellTypes.map((t, i) =>
    makeCell(i, t, pairsToNodes(t === CellType.Reduction ? DARTS_V2_REDUCE : DARTS_V2_NORMAL)),
  );
  return new ModelDesc({
    confModelDesc: {
      dataset: { name: 'synthetic', channels: 3, n_classes: 10 },
      n_reductions: cellTypes.filter((t) => t === CellType.Reduction).length,
      n_cells: cellTypes.length,
      max_final_edges: 2,
      model_post_op: 'pool_adaptive_avg2d',
      params: {},
      aux_weight: 0,
      aux_tower_stride: 3,
      model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: CH },
      cell: CONF_CELL,
    },
    modelStems: [new OpDesc('stem_conv3x3', { conv: new ConvMacroParams(3, CH * 3) }, 1)],
    poolOp: new OpDesc('pool_adaptive_avg2d', {}, 1),
    cellDescs: cells,
    auxTowerDescs: cells.map(() => null),
    logitsOp: new OpDesc('linear', { n_ch: CH * 4, n_classes: 10 }, 1),
  });
}
