// The model-description data model (Archai §3). Descriptions are plain data: every class here
// clones deeply, carries no tensors and serialises through `toJSON`-style helpers in `serialize.ts`.

/** Archai's `[C, N?, H, W]` shape; -1 means unknown, negative fractions mean "input size / k". */
export type TensorShape = number[];
export type TensorShapes = TensorShape[];

/** Learned weights carried by a desc (warm start); opaque to descs, written by @tsnas/ops. */
export type Trainables = { name: string; weights: Record<string, { shape: number[]; data: number[] }> };

export class ConvMacroParams {
  constructor(
    readonly chIn: number,
    readonly chOut: number,
  ) {}
  clone(): ConvMacroParams {
    return new ConvMacroParams(this.chIn, this.chOut);
  }
}

/** Op parameters keep Archai's key names (`conv`, `stride`, `out_states`, `n_ch`, `n_classes`, ...). */
export interface OpParams {
  conv?: ConvMacroParams;
  stride?: number;
  out_states?: number;
  n_ch?: number;
  n_classes?: number;
  kernel_size?: number;
  padding?: number;
  [key: string]: unknown;
}

function cloneParams(params: OpParams): OpParams {
  const out: OpParams = {};
  for (const [k, v] of Object.entries(params)) {
    if (v instanceof ConvMacroParams) out[k] = v.clone();
    else out[k] = v === undefined ? v : structuredClone(v);
  }
  return out;
}

export class OpDesc {
  name: string;
  params: OpParams;
  inLen: number;
  trainables: Trainables | null;
  children: OpDesc[] | null;
  childrenIns: number[] | null;

  constructor(
    name: string,
    params: OpParams,
    inLen: number,
    trainables: Trainables | null = null,
    children: OpDesc[] | null = null,
    childrenIns: number[] | null = null,
  ) {
    this.name = name;
    this.params = params;
    this.inLen = inLen;
    this.trainables = trainables;
    this.children = children;
    this.childrenIns = childrenIns;
  }

  clone(cloneTrainables = true): OpDesc {
    return new OpDesc(
      this.name,
      cloneParams(this.params),
      this.inLen,
      cloneTrainables && this.trainables ? structuredClone(this.trainables) : null,
      this.children ? this.children.map((c) => c.clone(cloneTrainables)) : null,
      this.childrenIns ? [...this.childrenIns] : null,
    );
  }

  clearTrainables(): void {
    this.trainables = null;
    for (const c of this.children ?? []) c.clearTrainables();
  }
}

export class EdgeDesc {
  constructor(
    readonly opDesc: OpDesc,
    readonly inputIds: number[],
  ) {
    if (opDesc.inLen !== inputIds.length) {
      throw new Error(
        `EdgeDesc: op '${opDesc.name}' has in_len ${opDesc.inLen} but ${inputIds.length} input ids [${inputIds.join(', ')}]`,
      );
    }
  }

  /** Clone, optionally swapping in new conv params (used when a template is scaled up). */
  clone(convParams: ConvMacroParams | null = null, clearTrainables = false): EdgeDesc {
    const op = this.opDesc.clone(!clearTrainables);
    if (convParams) op.params.conv = convParams.clone();
    return new EdgeDesc(op, [...this.inputIds]);
  }
}

export class NodeDesc {
  constructor(
    public edges: EdgeDesc[],
    public convParams: ConvMacroParams,
  ) {}
  clone(): NodeDesc {
    return new NodeDesc(
      this.edges.map((e) => e.clone()),
      this.convParams.clone(),
    );
  }
}

export class AuxTowerDesc {
  constructor(
    readonly chIn: number,
    readonly nClasses: number,
    readonly stride: number,
  ) {}
  clone(): AuxTowerDesc {
    return new AuxTowerDesc(this.chIn, this.nClasses, this.stride);
  }
}

export enum CellType {
  Regular = 'regular',
  Reduction = 'reduction',
}

/** The `cell` section of a model_desc profile. */
export interface ConfCell {
  n_nodes: number;
  cell_post_op: string;
  [key: string]: unknown;
}

/** The `nas.{search,eval}.model_desc` section of a profile (Archai key names). */
export interface ConfModelDesc {
  dataset: { name?: string; channels: number; n_classes: number; [key: string]: unknown };
  n_reductions: number;
  n_cells: number;
  max_final_edges: number;
  model_post_op: string;
  params: Record<string, unknown>;
  aux_weight: number;
  aux_tower_stride: number;
  model_stems: { ops: string[]; stem_multiplier: number; init_node_ch: number };
  cell: ConfCell;
  [key: string]: unknown;
}

export class CellDesc {
  id: number;
  cellType: CellType;
  confCell: ConfCell;
  stems: OpDesc[];
  stemShapes: TensorShapes;
  private _nodes: NodeDesc[];
  nodeShapes: TensorShapes;
  postOp: OpDesc;
  outShape: TensorShape;
  trainablesFrom: number;

  constructor(args: {
    id: number;
    cellType: CellType;
    confCell: ConfCell;
    stems: OpDesc[];
    stemShapes: TensorShapes;
    nodes: NodeDesc[];
    nodeShapes: TensorShapes;
    postOp: OpDesc;
    outShape: TensorShape;
    trainablesFrom: number;
  }) {
    if (args.stems.length !== 2)
      throw new Error(`CellDesc ${args.id}: expected 2 stems, got ${args.stems.length}`);
    this.id = args.id;
    this.cellType = args.cellType;
    this.confCell = args.confCell;
    this.stems = args.stems;
    this.stemShapes = args.stemShapes;
    this._nodes = args.nodes;
    this.nodeShapes = args.nodeShapes;
    this.postOp = args.postOp;
    this.outShape = args.outShape;
    this.trainablesFrom = args.trainablesFrom;
  }

  nodes(): NodeDesc[] {
    return this._nodes;
  }

  resetNodes(nodes: NodeDesc[], nodeShapes: TensorShapes, postOp: OpDesc, outShape: TensorShape): void {
    this._nodes = nodes;
    this.nodeShapes = nodeShapes;
    this.postOp = postOp;
    this.outShape = outShape;
  }

  allEmpty(): boolean {
    return this._nodes.every((n) => n.edges.length === 0);
  }

  allFull(): boolean {
    return this._nodes.length > 0 && this._nodes.every((n) => n.edges.length > 0);
  }

  clone(id: number = this.id): CellDesc {
    return new CellDesc({
      id,
      cellType: this.cellType,
      confCell: structuredClone(this.confCell),
      stems: this.stems.map((s) => s.clone()),
      stemShapes: structuredClone(this.stemShapes),
      nodes: this._nodes.map((n) => n.clone()),
      nodeShapes: structuredClone(this.nodeShapes),
      postOp: this.postOp.clone(),
      outShape: [...this.outShape],
      trainablesFrom: this.trainablesFrom,
    });
  }

  clearTrainables(): void {
    for (const s of this.stems) s.clearTrainables();
    for (const n of this._nodes) for (const e of n.edges) e.opDesc.clearTrainables();
    this.postOp.clearTrainables();
  }
}

export class ModelDesc {
  confModelDesc: ConfModelDesc;
  /** One stem (shared by s0 and s1, as in the DARTS paper) or two (Archai's default). */
  modelStems: OpDesc[];
  poolOp: OpDesc;
  private _cellDescs: CellDesc[];
  auxTowerDescs: (AuxTowerDesc | null)[];
  logitsOp: OpDesc;
  readonly dsCh: number;
  readonly nClasses: number;
  readonly params: Record<string, unknown>;
  readonly maxFinalEdges: number;

  constructor(args: {
    confModelDesc: ConfModelDesc;
    modelStems: OpDesc[];
    poolOp: OpDesc;
    cellDescs: CellDesc[];
    auxTowerDescs: (AuxTowerDesc | null)[];
    logitsOp: OpDesc;
  }) {
    if (args.modelStems.length < 1 || args.modelStems.length > 2) {
      throw new Error(`ModelDesc: model_stems must have 1 or 2 ops, got ${args.modelStems.length}`);
    }
    this.confModelDesc = args.confModelDesc;
    this.modelStems = args.modelStems;
    this.poolOp = args.poolOp;
    this.logitsOp = args.logitsOp;
    this._cellDescs = [];
    this.auxTowerDescs = [];
    this.resetCells(args.cellDescs, args.auxTowerDescs);
    this.dsCh = args.confModelDesc.dataset.channels;
    this.nClasses = args.confModelDesc.dataset.n_classes;
    this.params = args.confModelDesc.params ?? {};
    this.maxFinalEdges = args.confModelDesc.max_final_edges;
  }

  cellDescs(): CellDesc[] {
    return this._cellDescs;
  }

  resetCells(cellDescs: CellDesc[], auxTowerDescs: (AuxTowerDesc | null)[]): void {
    if (cellDescs.length !== auxTowerDescs.length) {
      throw new Error(`ModelDesc: ${cellDescs.length} cells but ${auxTowerDescs.length} aux tower entries`);
    }
    const ids = new Set<number>();
    for (const c of cellDescs) {
      if (ids.has(c.id)) throw new Error(`ModelDesc: duplicate cell id ${c.id}`);
      ids.add(c.id);
    }
    this._cellDescs = cellDescs;
    this.auxTowerDescs = auxTowerDescs;
  }

  cellTypeCount(cellType: CellType): number {
    return this._cellDescs.filter((c) => c.cellType === cellType).length;
  }

  hasAuxTower(): boolean {
    return this.auxTowerDescs.some((a) => a !== null);
  }

  clone(): ModelDesc {
    return new ModelDesc({
      confModelDesc: structuredClone(this.confModelDesc),
      modelStems: this.modelStems.map((s) => s.clone()),
      poolOp: this.poolOp.clone(),
      cellDescs: this._cellDescs.map((c) => c.clone()),
      auxTowerDescs: this.auxTowerDescs.map((a) => (a ? a.clone() : null)),
      logitsOp: this.logitsOp.clone(),
    });
  }

  clearTrainables(): void {
    for (const s of this.modelStems) s.clearTrainables();
    this.poolOp.clearTrainables();
    for (const c of this._cellDescs) c.clearTrainables();
    this.logitsOp.clearTrainables();
  }
}
