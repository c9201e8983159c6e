// ModelDescBuilder (Archai §4): turns a `model_desc` profile section, optionally plus a template
// desc (a finalized search result), into a ModelDesc. Every step is an overridable method so that
// algorithms (DARTS, random, DivNAS) change only the part they need, usually `buildNodes`.
import { DescError } from './errors.js';
import {
  AuxTowerDesc,
  CellDesc,
  CellType,
  type ConfCell,
  type ConfModelDesc,
  ConvMacroParams,
  ModelDesc,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from './model-desc.js';

/** Output shapes of every module built so far (stems, cells, ...), one list per module. */
export type TensorShapesList = TensorShapes[];

export interface BuiltCells {
  cellDescs: CellDesc[];
  auxTowerDescs: (AuxTowerDesc | null)[];
}

export interface BuiltCellStems {
  stemShapes: TensorShapes;
  stems: OpDesc[];
}

export interface BuiltNodes {
  nodeShapes: TensorShapes;
  nodes: NodeDesc[];
}

export interface BuiltCellPostOp {
  outShape: TensorShape;
  postOp: OpDesc;
}

// How much each model stem shrinks H and W. Archai instantiates the stem op to read this; descs has
// no ops, so the factor is a property of the op name, kept in this table.
const stemReductions = new Map<string, number>([
  ['stem_conv3x3', 1],
  ['stem_conv3x3Relu', 1],
  ['stem_conv3x3_s4', 4],
  ['stem_conv3x3_s4s2', 8],
]);

/**
 * Declares how much a stem op reduces H and W. Registering a known name again with the same factor
 * is a no-op; with a different factor it throws, naming both.
 */
export function registerStemReduction(opName: string, reduction: number): void {
  if (!Number.isInteger(reduction) || reduction < 1) {
    throw new DescError(`stem '${opName}': reduction must be a positive integer, got ${reduction}`);
  }
  const known = stemReductions.get(opName);
  if (known !== undefined && known !== reduction) {
    throw new DescError(
      `stem '${opName}' is already registered with reduction ${known}; cannot register it with ${reduction}`,
    );
  }
  stemReductions.set(opName, reduction);
}

/** The H/W reduction factor of a stem op; throws (exit code 2) for an unknown stem. */
export function getStemReduction(opName: string): number {
  const r = stemReductions.get(opName);
  if (r === undefined) {
    throw new DescError(
      `model_desc.model_stems.ops: unknown stem op '${opName}'; known stems: ${[...stemReductions.keys()].join(', ')} (add one with registerStemReduction)`,
      { path: 'model_stems.ops' },
    );
  }
  return r;
}

/** The stem op names with a registered reduction factor. */
export function knownStems(): string[] {
  return [...stemReductions.keys()];
}

function confError(key: string, value: unknown, expected: string): DescError {
  return new DescError(`model_desc.${key}: expected ${expected}, got ${JSON.stringify(value)}`, {
    path: key,
  });
}

function checkInt(value: unknown, key: string, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw confError(key, value, `an integer >= ${min}`);
  }
}

/** Checks the parts of the profile the builder reads, so a bad profile fails with the key's name. */
export function checkConfModelDesc(conf: ConfModelDesc): void {
  if (conf === null || typeof conf !== 'object') throw confError('', conf, 'an object');
  if (conf.dataset === null || typeof conf.dataset !== 'object') {
    throw confError('dataset', conf.dataset, 'an object with channels and n_classes');
  }
  checkInt(conf.dataset.channels, 'dataset.channels', 1);
  checkInt(conf.dataset.n_classes, 'dataset.n_classes', 1);
  checkInt(conf.n_cells, 'n_cells', 1);
  checkInt(conf.n_reductions, 'n_reductions', 0);
  const stems = conf.model_stems;
  if (stems === null || typeof stems !== 'object') throw confError('model_stems', stems, 'an object');
  checkInt(stems.init_node_ch, 'model_stems.init_node_ch', 1);
  checkInt(stems.stem_multiplier, 'model_stems.stem_multiplier', 1);
  if (
    !Array.isArray(stems.ops) ||
    stems.ops.length < 1 ||
    stems.ops.length > 2 ||
    !stems.ops.every((o) => typeof o === 'string')
  ) {
    throw confError(
      'model_stems.ops',
      stems.ops,
      'a list of 1 stem op (shared by s0 and s1) or 2 (one each)',
    );
  }
  if (conf.cell === null || typeof conf.cell !== 'object') throw confError('cell', conf.cell, 'an object');
  checkInt(conf.cell.n_nodes, 'cell.n_nodes', 1);
  if (conf.cell.cell_post_op !== 'concate_channels' && conf.cell.cell_post_op !== 'proj_channels') {
    throw confError('cell.cell_post_op', conf.cell.cell_post_op, "'concate_channels' or 'proj_channels'");
  }
  if (typeof conf.model_post_op !== 'string' || conf.model_post_op === '') {
    throw confError('model_post_op', conf.model_post_op, 'an op name');
  }
  if (typeof conf.aux_weight !== 'number' || !(conf.aux_weight >= 0)) {
    throw confError('aux_weight', conf.aux_weight, 'a number >= 0');
  }
  if (conf.aux_weight > 0) checkInt(conf.aux_tower_stride, 'aux_tower_stride', 1);
}

/** Channels of a shape (index 0 of Archai's `[C, N, H, W]`). */
function ch(shape: TensorShape): number {
  return shape[0];
}

export class ModelDescBuilder {
  protected confModelDesc!: ConfModelDesc;
  protected template: ModelDesc | null = null;
  /** First regular and first reduction cell of the template (null without a template). */
  protected cellTemplates: [CellDesc | null, CellDesc | null] = [null, null];
  protected reductionIndices: number[] = [];
  protected normalIndices: number[] = [];
  /** Per cell, the output channels of each of its nodes. */
  protected nodeChannels: number[][] = [];

  /** Main entry point. The builder keeps per-build state, so build one desc at a time. */
  build(confModelDesc: ConfModelDesc, template: ModelDesc | null = null): ModelDesc {
    this.initBuild(confModelDesc, template);
    this.preBuild(confModelDesc);

    // The dataset's channel count; -1 marks the unknown batch and spatial sizes.
    const inShapes: TensorShapesList = [[[confModelDesc.dataset.channels, -1, -1, -1]]];
    const modelStems = this.buildModelStems(inShapes, confModelDesc);
    const { cellDescs, auxTowerDescs } = this.buildCells(inShapes, confModelDesc);
    const poolOp = this.buildModelPool(inShapes, confModelDesc);
    const logitsOp = this.buildLogitsOp(inShapes, confModelDesc);

    return new ModelDesc({
      confModelDesc,
      modelStems,
      poolOp,
      cellDescs,
      auxTowerDescs,
      logitsOp,
    });
  }

  protected initBuild(confModelDesc: ConfModelDesc, template: ModelDesc | null): void {
    checkConfModelDesc(confModelDesc);
    this.confModelDesc = confModelDesc;
    this.template = template;
    this.cellTemplates = this.createCellTemplates(template);
    const nCells = confModelDesc.n_cells;
    this.reductionIndices = this.getReductionIndices(confModelDesc);
    this.normalIndices = [];
    for (let i = 0; i < nCells; i++) if (!this.reductionIndices.includes(i)) this.normalIndices.push(i);
    this.nodeChannels = this.getNodeChannels(confModelDesc);
  }

  /** Hook run before anything is built (Archai registers algorithm ops here). */
  preBuild(_confModelDesc: ConfModelDesc): void {}

  /** Hook to turn a built desc into the seed model of an iterative search (petridish). */
  seedCell(_modelDesc: ModelDesc): void {}

  /** Cell indices that halve H and W and double the channels: N R N R N for two reductions. */
  getReductionIndices(confModelDesc: ConfModelDesc): number[] {
    const nCells = confModelDesc.n_cells;
    const nReductions = confModelDesc.n_reductions;
    // Every reduction needs a regular cell on each side.
    if (nCells < 2 * nReductions + 1) {
      throw new DescError(
        `model_desc: n_cells=${nCells} is too small for n_reductions=${nReductions}; need n_cells >= 2*n_reductions+1 = ${2 * nReductions + 1}`,
        { path: 'n_cells' },
      );
    }
    const out: number[] = [];
    for (let i = 0; i < nReductions; i++) out.push(Math.floor((nCells * (i + 1)) / (nReductions + 1)));
    return out;
  }

  /** Per cell, the channels of each node: init_node_ch, doubled at every reduction cell. */
  getNodeChannels(confModelDesc: ConfModelDesc): number[][] {
    const nNodes = confModelDesc.cell.n_nodes;
    let channels = confModelDesc.model_stems.init_node_ch;
    const out: number[][] = [];
    for (let ci = 0; ci < confModelDesc.n_cells; ci++) {
      if (this.getCellType(ci) === CellType.Reduction) channels *= 2;
      out.push(new Array<number>(nNodes).fill(channels));
    }
    return out;
  }

  getNodeCount(cellIndex: number): number {
    return this.nodeChannels[cellIndex].length;
  }

  getCellType(cellIndex: number): CellType {
    return this.reductionIndices.includes(cellIndex) ? CellType.Reduction : CellType.Regular;
  }

  /** The cell whose arch params (alphas) this cell shares: the first cell of its type. */
  getTrainablesFrom(cellIndex: number): number {
    return this.getCellType(cellIndex) === CellType.Reduction
      ? this.reductionIndices[0]
      : this.normalIndices[0];
  }

  createCellTemplates(template: ModelDesc | null): [CellDesc | null, CellDesc | null] {
    if (!template) return [null, null];
    const cells = template.cellDescs();
    return [
      cells.find((c) => c.cellType === CellType.Regular) ?? null,
      cells.find((c) => c.cellType === CellType.Reduction) ?? null,
    ];
  }

  getCellTemplate(cellIndex: number): CellDesc | null {
    return this.getCellType(cellIndex) === CellType.Reduction ? this.cellTemplates[1] : this.cellTemplates[0];
  }

  /** The stem reduction factor of one model stem op (see `registerStemReduction`). */
  getStemReduction(stem: OpDesc): number {
    return getStemReduction(stem.name);
  }

  buildModelStems(inShapes: TensorShapesList, confModelDesc: ConfModelDesc): OpDesc[] {
    const { init_node_ch, stem_multiplier, ops } = confModelDesc.model_stems;
    const outCh = init_node_ch * stem_multiplier;
    const inCh = ch(inShapes[inShapes.length - 1][0]);
    const stems = ops.map((name) => new OpDesc(name, { conv: new ConvMacroParams(inCh, outCh) }, 1));
    for (const stem of stems) {
      const r = this.getStemReduction(stem);
      inShapes.push([[outCh, -1, -1 / r, -1 / r]]);
    }
    // One stem feeds both s0 and s1 of cell 0 (DARTS); cells read the last two entries.
    if (stems.length === 1) inShapes.push(structuredClone(inShapes[inShapes.length - 1]));
    return stems;
  }

  buildCells(inShapes: TensorShapesList, confModelDesc: ConfModelDesc): BuiltCells {
    const cellDescs: CellDesc[] = [];
    const auxTowerDescs: (AuxTowerDesc | null)[] = [];
    for (let ci = 0; ci < confModelDesc.n_cells; ci++) {
      cellDescs.push(this.buildCell(inShapes, confModelDesc.cell, ci));
      auxTowerDescs.push(this.buildAuxTower(inShapes[inShapes.length - 1][0], confModelDesc, ci));
    }
    return { cellDescs, auxTowerDescs };
  }

  buildCell(inShapes: TensorShapesList, confCell: ConfCell, cellIndex: number): CellDesc {
    const { stemShapes, stems } = this.buildCellStems(inShapes, confCell, cellIndex);
    const cellType = this.getCellType(cellIndex);

    let built: BuiltNodes;
    if (this.template === null) {
      const nodeCount = this.getNodeCount(cellIndex);
      // Nodes keep the shape of the cell stems' output.
      built = this.buildNodes(
        stemShapes,
        confCell,
        cellIndex,
        cellType,
        nodeCount,
        stemShapes[0],
        stemShapes[0],
      );
    } else {
      built = this.buildNodesFromTemplate(stemShapes, confCell, cellIndex);
    }

    const { outShape, postOp } = this.buildCellPostOp(stemShapes, built.nodeShapes, confCell, cellIndex);
    const cell = new CellDesc({
      id: cellIndex,
      cellType,
      confCell,
      stems,
      stemShapes,
      nodes: built.nodes,
      nodeShapes: built.nodeShapes,
      postOp,
      outShape,
      trainablesFrom: this.getTrainablesFrom(cellIndex),
    });
    inShapes.push([outShape]);
    return cell;
  }

  buildCellStems(inShapes: TensorShapesList, _confCell: ConfCell, cellIndex: number): BuiltCellStems {
    if (inShapes.length < 2) {
      throw new Error(`buildCellStems: cell ${cellIndex} needs the outputs of two earlier modules`);
    }
    const p = inShapes[inShapes.length - 1][0];
    const pp = inShapes[inShapes.length - 2][0];
    // If the previous module reduced (channels doubled or H halved), s0 comes from a map twice as
    // large as s1 and has to be reduced too.
    const reductionP = ch(p) === 2 * ch(pp) || pp[2] === 2 * p[2];
    const nodeCh = this.nodeChannels[cellIndex][0];

    const s0 = new OpDesc(
      reductionP ? 'prepr_reduce' : 'prepr_normal',
      {
        conv: new ConvMacroParams(ch(pp), nodeCh),
      },
      1,
    );
    const s1 = new OpDesc('prepr_normal', { conv: new ConvMacroParams(ch(p), nodeCh) }, 1);
    // Both stems output node channels at s1's spatial size.
    const stemShape: TensorShape = [...p];
    stemShape[0] = nodeCh;
    return { stemShapes: [stemShape, [...stemShape]], stems: [s0, s1] };
  }

  /** The base builder makes nodes without edges; search algorithms fill them in by overriding this. */
  buildNodes(
    _stemShapes: TensorShapes,
    _confCell: ConfCell,
    _cellIndex: number,
    _cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): BuiltNodes {
    const nodes: NodeDesc[] = [];
    const nodeShapes: TensorShapes = [];
    for (let i = 0; i < nodeCount; i++) {
      nodes.push(new NodeDesc([], new ConvMacroParams(ch(inShape), ch(outShape))));
      nodeShapes.push([...outShape]);
    }
    return { nodeShapes, nodes };
  }

  /** Copies the template cell of the same type, scaling every edge's conv to this cell's channels. */
  buildNodesFromTemplate(stemShapes: TensorShapes, _confCell: ConfCell, cellIndex: number): BuiltNodes {
    const cellType = this.getCellType(cellIndex);
    const cellTemplate = this.getCellTemplate(cellIndex);
    if (!cellTemplate) {
      throw new DescError(
        `template desc has no ${cellType} cell, but cell ${cellIndex} of the model to build is ${cellType}`,
      );
    }
    const c = ch(stemShapes[0]);
    const nodes = cellTemplate.nodes().map(
      (n) =>
        new NodeDesc(
          n.edges.map((e) => e.clone(new ConvMacroParams(c, c), true)),
          n.convParams.clone(),
        ),
    );
    const nodeShapes = nodes.map(() => [...stemShapes[0]]);
    return { nodeShapes, nodes };
  }

  buildCellPostOp(
    stemShapes: TensorShapes,
    nodeShapes: TensorShapes,
    confCell: ConfCell,
    _cellIndex: number,
  ): BuiltCellPostOp {
    const postOpName = confCell.cell_post_op;
    // Without nodes the post op takes the two stem outputs.
    const outStates = nodeShapes.length > 0 ? nodeShapes.length : 2;
    const lastShape = nodeShapes.length > 0 ? nodeShapes[nodeShapes.length - 1] : stemShapes[0];
    const nodeCh = ch(lastShape);
    const opChIn = outStates * nodeCh;
    let cellChOut: number;
    if (postOpName === 'concate_channels') cellChOut = opChIn;
    else if (postOpName === 'proj_channels') cellChOut = nodeCh;
    else {
      throw new DescError(
        `model_desc.cell.cell_post_op: expected 'concate_channels' or 'proj_channels', got '${postOpName}'`,
        { path: 'cell.cell_post_op' },
      );
    }
    const postOp = new OpDesc(
      postOpName,
      { conv: new ConvMacroParams(opChIn, cellChOut), out_states: outStates },
      1,
    );
    const outShape = [...lastShape];
    outShape[0] = cellChOut;
    return { outShape, postOp };
  }

  /** An auxiliary head after the cell at 2/3 of the depth (the second reduction cell for 20 cells). */
  buildAuxTower(outShape: TensorShape, confModelDesc: ConfModelDesc, cellIndex: number): AuxTowerDesc | null {
    const { n_cells, n_reductions, aux_weight, aux_tower_stride } = confModelDesc;
    if (aux_weight > 0 && n_reductions > 1 && cellIndex === Math.floor((2 * n_cells) / 3)) {
      return new AuxTowerDesc(ch(outShape), confModelDesc.dataset.n_classes, aux_tower_stride);
    }
    return null;
  }

  buildModelPool(inShapes: TensorShapesList, confModelDesc: ConfModelDesc): OpDesc {
    const last = inShapes[inShapes.length - 1][0];
    inShapes.push([[...last]]);
    return new OpDesc(confModelDesc.model_post_op, { conv: new ConvMacroParams(ch(last), ch(last)) }, 1);
  }

  buildLogitsOp(inShapes: TensorShapesList, confModelDesc: ConfModelDesc): OpDesc {
    return new OpDesc(
      'linear',
      { n_ch: ch(inShapes[inShapes.length - 1][0]), n_classes: confModelDesc.dataset.n_classes },
      1,
    );
  }
}
