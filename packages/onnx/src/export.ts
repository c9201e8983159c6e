// The evaluation network of a ModelDesc as an ONNX model, walked the way @tsnas/ops's Model runs
// it in eval mode (model.ts, cell.ts): no auxiliary head, no drop path, BN with running statistics.
import { createRequire } from 'node:module';
import type { NamedArray } from '@tsnas/backend';
import type { ModelDesc, OpDesc } from '@tsnas/descs';
import { OnnxExportError } from './errors.js';
import { BUILTIN_EXPORTERS, type OpExportContext, type OpExporter } from './exporters.js';
import { floatValueInfo, GraphBuilder } from './graph.js';
import { onnx, type OnnxTypes } from './internal/proto.js';

/** ONNX opset the graph uses (BatchNormalization-15, Slice-13, AveragePool-11 ...). */
export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;

export const VERSION: string = createRequire(import.meta.url)('../package.json').version;

export interface ExportOptions {
  /**
   * Layout of the graph's input. Default 'NCHW', what ONNX tooling expects; 'NHWC' takes tfjs's
   * layout (as tsnas's datasets produce it) and transposes it to NCHW inside the graph.
   */
  inputLayout?: 'NCHW' | 'NHWC';
  /** Fixed input height and width; default symbolic (any size the network's ops accept). */
  inputSize?: [height: number, width: number];
  /** Fixed batch size; default symbolic ('batch'). */
  batchSize?: number;
  /** BN affine flag of the cell and head ops, as passed to Model (default true: evaluation). */
  affine?: boolean;
  /** BN affine flag of the stems, as Model's `stemAffine` (default true). */
  stemAffine?: boolean;
  /** Exporters of ops that are not built into @tsnas/ops (plug-in ops), by op name. */
  exporters?: Record<string, OpExporter>;
  /** Where the weights came from, for error messages (default 'weights'). */
  source?: string;
  /** Graph name (default 'tsnas'). */
  name?: string;
}

const AUX_PREFIX = 'aux_towers.';

/** Names of the graph's input and output. */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'logits';

/** Hands out the weights by name, checking shapes, and remembers which were used. */
export class WeightSource {
  readonly used = new Set<string>();
  constructor(
    private readonly weights: Map<string, NamedArray>,
    readonly source: string,
  ) {}

  get(name: string, shape: number[]): Float32Array {
    const t = this.weights.get(name);
    if (!t)
      throw new OnnxExportError(
        `${this.source}: missing tensor '${name}' (shape [${shape}]) that the desc needs`,
      );
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new OnnxExportError(
        `${this.source}: tensor '${name}' has shape [${t.shape}], the desc expects [${shape}]`,
      );
    }
    if (!(t.data instanceof Float32Array))
      throw new OnnxExportError(`${this.source}: tensor '${name}' is not float32`);
    this.used.add(name);
    return t.data;
  }

  /** Every tensor must have been used, except the auxiliary head's (not part of the evaluation network). */
  checkAllUsed(): void {
    const unused = [...this.weights.keys()].filter((n) => !this.used.has(n) && !n.startsWith(AUX_PREFIX));
    if (unused.length === 0) return;
    const list = unused.slice(0, 5).join(', ') + (unused.length > 5 ? `, ... (${unused.length})` : '');
    throw new OnnxExportError(`${this.source}: tensor(s) ${list} are not in the desc's network`);
  }
}

/** Walks ops through their exporters (not exported from the package: internal/single-op.ts uses it). */
export class Exporter {
  readonly graph = new GraphBuilder();
  private readonly exporters: Record<string, OpExporter>;

  constructor(
    private readonly weights: WeightSource,
    extra: Record<string, OpExporter>,
  ) {
    this.exporters = { ...BUILTIN_EXPORTERS, ...extra };
  }

  op(desc: OpDesc, inputs: string[], path: string, affine: boolean): string {
    const exporter = Object.hasOwn(this.exporters, desc.name) ? this.exporters[desc.name] : undefined;
    if (!exporter) {
      throw new OnnxExportError(
        `op '${desc.name}' at ${path} has no ONNX exporter (known: ${Object.keys(this.exporters).sort().join(', ')}); pass one in the exporters option`,
      );
    }
    const ctx: OpExportContext = {
      graph: this.graph,
      path,
      affine,
      weight: (name, shape) => this.weights.get(`${path}.${name}`, shape),
      child: (d, ins, name) => this.op(d, ins, `${path}.${name}`, affine),
    };
    return exporter(desc, inputs, ctx);
  }
}

/** The ONNX model of `desc`'s evaluation network with `weights` (as Model.saveWeights writes them). */
export function buildOnnxModel(
  desc: ModelDesc,
  weights: Map<string, NamedArray>,
  opts: ExportOptions = {},
): OnnxTypes.ModelProto {
  const source = new WeightSource(weights, opts.source ?? 'weights');
  const ex = new Exporter(source, opts.exporters ?? {});
  const g = ex.graph;
  const affine = opts.affine ?? true;
  const stemAffine = opts.stemAffine ?? true;
  const nhwc = opts.inputLayout === 'NHWC';
  for (const [name, v] of [
    ['height', opts.inputSize?.[0]],
    ['width', opts.inputSize?.[1]],
    ['batch size', opts.batchSize],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0))
      throw new OnnxExportError(`input ${name} must be a positive integer, got ${v}`);
  }
  const batch = opts.batchSize ?? 'batch';
  const [h, w] = opts.inputSize ?? ['height', 'width'];
  const ch = desc.dsCh;
  g.reserve(ONNX_INPUT);
  g.reserve(ONNX_OUTPUT);

  let x = ONNX_INPUT;
  if (nhwc) x = g.node('Transpose', [x], 'nhwc_to_nchw', { perm: [0, 3, 1, 2] });

  const stemOuts = desc.modelStems.map((s, i) => ex.op(s, [x], `stems.${i}`, stemAffine));
  let s0 = stemOuts[0];
  let s1 = stemOuts[stemOuts.length - 1];
  desc.cellDescs().forEach((cell, i) => {
    const path = `cells.${i}`;
    const states = [
      ex.op(cell.stems[0], [s0], `${path}.s0_op`, affine),
      ex.op(cell.stems[1], [s1], `${path}.s1_op`, affine),
    ];
    cell.nodes().forEach((node, j) => {
      // An empty node repeats the last state (Cell.forward).
      if (node.edges.length === 0) {
        states.push(states[states.length - 1]);
        return;
      }
      const outs = node.edges.map((edge, k) => {
        const inputs = edge.inputIds.map((id) => {
          const s = states[id];
          if (s === undefined)
            throw new OnnxExportError(
              `${path}.nodes.${j}.edges.${k}: op '${edge.opDesc.name}' reads state ${id}, only ${states.length} exist`,
            );
          return s;
        });
        return ex.op(edge.opDesc, inputs, `${path}.nodes.${j}.edges.${k}.op`, affine);
      });
      states.push(g.sum(outs, `${path}.nodes.${j}.sum`));
    });
    s0 = s1;
    s1 = ex.op(cell.postOp, states, `${path}.post_op`, affine);
  });
  const pooled = ex.op(desc.poolOp, [s1], 'pool_op', affine);
  const out = ex.op(desc.logitsOp, [pooled], 'logits_op', affine);
  // Model.forward reshapes the logits op's output to [batch, classes].
  g.nodes.push({
    opType: 'Flatten',
    name: ONNX_OUTPUT,
    input: [out],
    output: [ONNX_OUTPUT],
    attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
  });

  source.checkAllUsed();

  return g.toModel({
    input: floatValueInfo(ONNX_INPUT, nhwc ? [batch, h, w, ch] : [batch, ch, h, w]),
    output: floatValueInfo(ONNX_OUTPUT, [batch, desc.nClasses]),
    opset: ONNX_OPSET,
    irVersion: IR_VERSION,
    producerVersion: VERSION,
    graphName: opts.name ?? 'tsnas',
    docString: `tsnas evaluation network: ${desc.cellDescs().length} cells, ${ch}-channel ${nhwc ? 'NHWC' : 'NCHW'} input, ${desc.nClasses} logits`,
    metadata: { input_layout: nhwc ? 'NHWC' : 'NCHW', n_cells: String(desc.cellDescs().length) },
  });
}

/** The bytes of an .onnx file holding `model`. */
export function encodeOnnx(model: OnnxTypes.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** `buildOnnxModel`, serialised: the bytes of an .onnx file. */
export function exportOnnx(
  desc: ModelDesc,
  weights: Map<string, NamedArray>,
  opts: ExportOptions = {},
): Uint8Array {
  return encodeOnnx(buildOnnxModel(desc, weights, opts));
}
