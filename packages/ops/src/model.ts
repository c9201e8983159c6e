import * as tf from '@tensorflow/tfjs-core';
import { globalRng, loadSafetensors, type NamedArray, type SeededRng, saveSafetensors } from '@tsnas/backend';
import type { ModelDesc } from '@tsnas/descs';
import type { DependencyContainer } from 'tsyringe';
import { AuxTower } from './aux-tower.js';
import { Cell, type CellBuildOptions } from './cell.js';
import { OpsError, StateError } from './errors.js';
import { disposeConstants } from './internal/fused.js';
import { segment } from './internal/segment.js';
import { Module, ModuleList } from './module.js';
import type { Op } from './op.js';
import { createOp } from './registry.js';

export interface ModelOptions {
  /** The run's container: ops are looked up in its registry (and its ancestors'). */
  container: DependencyContainer;
  /** BN affine flag of every op (false while searching, true for evaluation), as in Archai. */
  affine: boolean;
  /** Wrap droppable edge ops with DropPath. */
  droppath: boolean;
  /**
   * BN affine flag of the model stems. Default true: the DARTS search network's stem BN is affine
   * even though every other BN is not. Pass `affine` to get Archai's behaviour.
   */
  stemAffine?: boolean;
  /** Source of DropPath masks; default: a fork of the library RNG labelled 'droppath'. */
  dropPathRng?: SeededRng;
}

export interface ModelOutput {
  logits: tf.Tensor2D;
  /** The auxiliary head's logits; only while training and when the model has an aux tower. */
  aux: tf.Tensor2D | null;
}

const AUX_PREFIX = 'aux_towers.';

/**
 * The network built from a ModelDesc (Archai's `Model`): one stem shared by s0 and s1 or two
 * stems, then `s0, s1 = s1, cell(s0, s1)` for each cell, `logits = linear(pool(s1))`.
 */
export class Model extends Module {
  readonly desc: ModelDesc;
  readonly stems: Op[];
  readonly cells: Cell[];
  /** One entry per cell; null where the cell has no auxiliary head. */
  readonly auxTowers: (AuxTower | null)[];
  readonly poolOp: Op;
  readonly logitsOp: Op;
  /** DropPath masks are drawn from here; a trainer may save and restore its state. */
  dropPathRng: SeededRng;

  constructor(desc: ModelDesc, opts: ModelOptions) {
    super();
    this.desc = desc;
    this.dropPathRng = opts.dropPathRng ?? globalRng().fork('droppath');
    const stemAffine = opts.stemAffine ?? true;
    const stemList = this.addChild('stems', new ModuleList<Op>());
    for (const s of desc.modelStems) stemList.push(createOp(opts.container, s, stemAffine));
    this.stems = stemList.items;

    const cellOpts: CellBuildOptions = {
      container: opts.container,
      affine: opts.affine,
      droppath: opts.droppath,
      dropPathRng: () => this.dropPathRng,
    };
    const cellList = this.addChild('cells', new ModuleList<Cell>());
    const towers = this.addChild('aux_towers', new ModuleList<AuxTower>());
    this.auxTowers = [];
    const cellDescs = desc.cellDescs();
    cellDescs.forEach((cd, i) => {
      let template: Cell | null = null;
      if (cd.trainablesFrom !== cd.id) {
        template = cellList.items.find((c) => c.desc.id === cd.trainablesFrom) ?? null;
        if (!template) {
          throw new OpsError(
            `cell ${cd.id}: trainables_from ${cd.trainablesFrom} must name a cell built before it`,
          );
        }
      }
      cellList.push(new Cell(cd, cellOpts, template));
      const auxDesc = desc.auxTowerDescs[i];
      this.auxTowers.push(auxDesc ? towers.push(new AuxTower(auxDesc), String(i)) : null);
    });
    this.cells = cellList.items;
    this.poolOp = this.addChild('pool_op', createOp(opts.container, desc.poolOp, opts.affine));
    this.logitsOp = this.addChild('logits_op', createOp(opts.container, desc.logitsOp, opts.affine));
  }

  forward(x: tf.Tensor4D, training: boolean): ModelOutput {
    const stemOuts = this.stems.map((stem) => stem.forward(x, training));
    let s0 = stemOuts[0];
    let s1 = stemOuts[stemOuts.length - 1];
    let aux: tf.Tensor2D | null = null;
    this.cells.forEach((cell, i) => {
      // Free each cell's intermediates as soon as it is done; under a gradient tape, each cell is
      // one segment whose backward frees its gradients and saved tensors as it goes.
      const out = segment(() => cell.forward(s0, s1, training)) as tf.Tensor4D;
      s0 = s1;
      s1 = out;
      const tower = this.auxTowers[i];
      if (tower && training) aux = tower.forward(s1, training);
    });
    const pooled = this.poolOp.forward(s1, training);
    const out = this.logitsOp.forward(pooled, training);
    const logits = tf.reshape(out, [out.shape[0], -1]) as tf.Tensor2D;
    return { logits, aux };
  }

  /** Trainable weights by hierarchical name (arch params excluded). */
  weights(): Map<string, tf.Variable> {
    return this.namedWeights();
  }

  /** Each architecture variable once, under the name of the op that owns it. */
  archParams(): Map<string, tf.Variable> {
    return this.namedArchParams();
  }

  /** BN running statistics. */
  buffers(): Map<string, tf.Variable> {
    return this.namedBuffers();
  }

  setDropPathProb(p: number): void {
    if (!(p >= 0 && p < 1)) throw new OpsError(`drop path probability must be in [0, 1), got ${p}`);
    for (const cell of this.cells) {
      for (const node of cell.nodes) for (const edge of node.edges) if (edge.dropPath) edge.dropPath.p = p;
    }
  }

  /** Number of weight values (BN buffers never count). Default: with the aux head, without arch params. */
  paramCount(opts: { includeAux?: boolean; includeArch?: boolean } = {}): number {
    const includeAux = opts.includeAux ?? true;
    let n = 0;
    for (const [name, v] of this.weights()) if (includeAux || !name.startsWith(AUX_PREFIX)) n += v.size;
    if (opts.includeArch) for (const v of this.archParams().values()) n += v.size;
    return n;
  }

  /** Every edge op of every cell (Archai's `Model.ops`). */
  ops(): Op[] {
    return this.cells.flatMap((c) => c.ops());
  }

  private allVariables(): Map<string, tf.Variable> {
    return new Map([...this.weights(), ...this.archParams(), ...this.buffers()]);
  }

  /** Copies of weights, arch params and buffers; the caller owns (and disposes) them. */
  getState(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, v] of this.allVariables()) out.set(name, tf.clone(v));
    return out;
  }

  /** Loads a full state; checks every name and shape before assigning anything. */
  setState(state: Map<string, tf.Tensor | NamedArray>, source = 'state'): void {
    const vars = this.allVariables();
    const missing = [...vars.keys()].filter((n) => !state.has(n));
    const extra = [...state.keys()].filter((n) => !vars.has(n));
    const list = (names: string[]) =>
      names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length})` : '');
    if (missing.length > 0) throw new StateError(`${source}: missing tensor(s) ${list(missing)}`);
    if (extra.length > 0)
      throw new StateError(`${source}: unexpected tensor(s) ${list(extra)} not in the model`);
    for (const [name, v] of vars) {
      const shape = state.get(name)!.shape;
      if (shape.length !== v.shape.length || shape.some((d: number, i: number) => d !== v.shape[i])) {
        throw new StateError(
          `${source}: tensor '${name}' has shape [${shape}], the model expects [${v.shape}]`,
        );
      }
    }
    for (const [name, v] of vars) {
      const value = state.get(name)!;
      if (value instanceof tf.Tensor) {
        const t = value.dtype === 'float32' ? value : tf.cast(value, 'float32');
        v.assign(t);
        if (t !== value) t.dispose();
      } else {
        const t = tf.tensor(Float32Array.from(value.data), value.shape, 'float32');
        v.assign(t);
        t.dispose();
      }
    }
  }

  /**
   * Writes weights, arch params and BN buffers as safetensors (F32). Layouts are tfjs's: conv
   * [kh, kw, in, out], depthwise [kh, kw, in, 1], linear [in, out].
   */
  async saveWeights(path: string): Promise<void> {
    const tensors = new Map<string, NamedArray>();
    for (const [name, v] of this.allVariables()) {
      tensors.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    await saveSafetensors(path, tensors, {
      format: 'tsnas',
      layout: 'NHWC; conv [kh,kw,in,out]; depthwise [kh,kw,in,1]; linear [in,out]',
    });
  }

  /** Frees the model's variables and the shape constants its ops cached (rebuilt on demand). */
  override dispose(): void {
    super.dispose();
    disposeConstants();
  }

  async loadWeights(path: string): Promise<void> {
    const { tensors } = await loadSafetensors(path);
    this.setState(tensors, path);
  }
}
