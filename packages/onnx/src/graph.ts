// A small builder for an ONNX graph in NCHW: nodes in topological order (the order they are added),
// initializers converted from tsnas's layouts, and value names that stay unique.
import { onnx, type OnnxTypes } from './internal/proto.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

export type AttrValue = number | number[] | string | { float: number };

function attribute(name: string, v: AttrValue): OnnxTypes.IAttributeProto {
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: v };
  if (typeof v === 'object') return { name, type: A.FLOAT, f: v.float };
  return { name, type: A.INT, i: v };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as typed arrays are on every platform Node runs on.
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

export interface ConvGeometry {
  stride: number;
  /** Symmetric padding on H and W; ignored when `autoPad` is set. */
  pad: number;
  dilation: number;
  /** One group per channel (tsnas depthwise weight [kh, kw, c, 1]). */
  depthwise: boolean;
  autoPad?: 'SAME_UPPER';
}

export class GraphBuilder {
  readonly nodes: OnnxTypes.INodeProto[] = [];
  readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly used = new Set<string>();
  private readonly constants = new Map<string, string>();

  /** `base`, or `base_2`, `base_3`... when taken. */
  unique(base: string): string {
    let name = base;
    for (let i = 2; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.used.add(name);
  }

  /** Adds a node with one output named after it; returns the output's name. */
  node(opType: string, inputs: string[], name: string, attrs: Record<string, AttrValue> = {}): string {
    const out = this.unique(name);
    this.nodes.push({
      opType,
      name: out,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  floatInit(name: string, dims: number[], data: Float32Array, doc?: string): string {
    const unique = this.unique(name);
    this.initializers.push({
      name: unique,
      dims,
      dataType: FLOAT,
      rawData: bytesOf(data),
      docString: doc ?? null,
    });
    return unique;
  }

  int64Init(name: string, values: number[]): string {
    const unique = this.unique(name);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name: unique, dims: [values.length], dataType: INT64, rawData: bytesOf(data) });
    return unique;
  }

  /** A float constant shared by every node that needs the same one (BN ones/zeros, the 0 of `none`). */
  sharedFloat(key: string, dims: number[], fill: number): string {
    const hit = this.constants.get(key);
    if (hit) return hit;
    const n = dims.reduce((a, b) => a * b, 1);
    const name = this.floatInit(`const.${key}`, dims, new Float32Array(n).fill(fill));
    this.constants.set(key, name);
    return name;
  }

  sharedInt64(key: string, values: number[]): string {
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.int64Init(`const.${key}`, values);
    this.constants.set(key, name);
    return name;
  }

  relu(x: string, name: string): string {
    return this.node('Relu', [x], name);
  }

  /**
   * Conv without bias. `weight` is in tsnas's layout ([kh, kw, in, out], depthwise [kh, kw, c, 1]);
   * the initializer gets ONNX's [out, in/groups, kh, kw].
   */
  conv(
    x: string,
    name: string,
    weightName: string,
    weight: Float32Array,
    shape: number[],
    g: ConvGeometry,
  ): string {
    const [kh, kw, cin, cout] = shape;
    const outCh = g.depthwise ? cin : cout;
    const inPerGroup = g.depthwise ? 1 : cin;
    const oihw = new Float32Array(weight.length);
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++)
        for (let c = 0; c < cin; c++)
          for (let o = 0; o < cout; o++) {
            const src = ((i * kw + j) * cin + c) * cout + o;
            // depthwise: tsnas [kh, kw, c, 1] -> ONNX [c, 1, kh, kw]
            const [oc, ic] = g.depthwise ? [c, 0] : [o, c];
            oihw[((oc * inPerGroup + ic) * kh + i) * kw + j] = weight[src];
          }
    const w = this.floatInit(weightName, [outCh, inPerGroup, kh, kw], oihw);
    const attrs: Record<string, AttrValue> = {
      kernel_shape: [kh, kw],
      strides: [g.stride, g.stride],
      dilations: [g.dilation, g.dilation],
      group: g.depthwise ? cin : 1,
    };
    if (g.autoPad) attrs.auto_pad = g.autoPad;
    else attrs.pads = [g.pad, g.pad, g.pad, g.pad];
    return this.node('Conv', [x, w], name, attrs);
  }

  /** The sum of same-shaped values (a lone value passes through). */
  sum(xs: string[], name: string): string {
    return xs.length === 1 ? xs[0] : this.node('Sum', xs, name);
  }

  concatChannels(xs: string[], name: string): string {
    return xs.length === 1 ? xs[0] : this.node('Concat', xs, name, { axis: 1 });
  }

  toModel(opts: {
    input: OnnxTypes.IValueInfoProto;
    output: OnnxTypes.IValueInfoProto;
    opset: number;
    irVersion: number;
    producerVersion: string;
    docString: string;
    metadata: Record<string, string>;
    graphName: string;
  }): OnnxTypes.ModelProto {
    return onnx.ModelProto.create({
      irVersion: opts.irVersion,
      producerName: 'tsnas',
      producerVersion: opts.producerVersion,
      docString: opts.docString,
      opsetImport: [{ domain: '', version: opts.opset }],
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: opts.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: [opts.input],
        output: [opts.output],
      },
    });
  }
}

/** A float tensor value's type; string dims are symbolic (dim_param). */
export function floatValueInfo(name: string, dims: (number | string)[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
