// One ONNX exporter per built-in op of @tsnas/ops (primitives.ts, builtins.ts), reproducing each
// op's evaluation-mode forward pass in NCHW: same kernel sizes, paddings, strides, dilations, BN
// with running statistics, and the same weight names the model saves.
import { ConvMacroParams, OpDesc } from '@tsnas/descs';
import { OnnxExportError } from './errors.js';
import type { GraphBuilder } from './graph.js';

/** What an exporter sees of the network being exported. */
export interface OpExportContext {
  readonly graph: GraphBuilder;
  /** The op's path in the model (`cells.3.nodes.0.edges.1.op`); node and weight names start with it. */
  readonly path: string;
  /** BN affine flag of this op (true in evaluation networks). */
  readonly affine: boolean;
  /** The op's weight `<path>.<name>` in tsnas's layout, checked against `shape`. */
  weight(name: string, shape: number[]): Float32Array;
  /** Exports a child op (`multi_op`'s children) under `<path>.<name>`; returns its output. */
  child(desc: OpDesc, inputs: string[], name: string): string;
}

/**
 * Emits the nodes of one op on `inputs` (value names, NCHW; several for merge ops) and returns the
 * name of its output. Throw OnnxExportError for a desc it cannot export.
 */
export type OpExporter = (desc: OpDesc, inputs: string[], ctx: OpExportContext) => string;

/** BatchNorm2d's epsilon in @tsnas/ops (PyTorch's default). */
const BN_EPS = 1e-5;

function bad(desc: OpDesc, ctx: OpExportContext, key: string, expected: string): never {
  throw new OnnxExportError(
    `op '${desc.name}' at ${ctx.path}: params.${key} must be ${expected}, got ${JSON.stringify(desc.params[key]) ?? 'undefined'}`,
  );
}

function intParam(desc: OpDesc, ctx: OpExportContext, key: string, dflt: number, min = 1): number {
  const v = desc.params[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(desc, ctx, key, `an integer >= ${min}`);
  return v;
}

function requiredInt(desc: OpDesc, ctx: OpExportContext, key: string): number {
  const v = desc.params[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(desc, ctx, key, 'a positive integer');
  return v;
}

function convChannels(desc: OpDesc, ctx: OpExportContext): { chIn: number; chOut: number } {
  const conv = desc.params.conv as { chIn?: unknown; chOut?: unknown } | undefined;
  const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (!conv || !ok(conv.chIn) || !ok(conv.chOut))
    bad(desc, ctx, 'conv', 'conv params {chIn, chOut} of positive integers');
  return { chIn: conv.chIn, chOut: conv.chOut };
}

function single(desc: OpDesc, ctx: OpExportContext, inputs: string[]): string {
  if (inputs.length !== 1)
    throw new OnnxExportError(`op '${desc.name}' at ${ctx.path} takes one input, got ${inputs.length}`);
  return inputs[0];
}

const at = (ctx: OpExportContext, sub: string) => (sub ? `${ctx.path}.${sub}` : ctx.path);
const prefixed = (sub: string, name: string) => (sub ? `${sub}.${name}` : name);

/**
 * BatchNorm2d in eval mode as a BatchNormalization node. Not folded into the conv before it: the
 * initializers keep the names and values of the saved weights (a reader can check them against the
 * safetensors file), and ONNX runtimes fold Conv+BN themselves when they optimise the graph.
 */
export function batchNorm(ctx: OpExportContext, x: string, sub: string, ch: number): string {
  const g = ctx.graph;
  const scale = ctx.affine
    ? ctx.graph.floatInit(at(ctx, `${sub}.weight`), [ch], ctx.weight(`${sub}.weight`, [ch]))
    : g.sharedFloat(`ones_${ch}`, [ch], 1);
  const bias = ctx.affine
    ? ctx.graph.floatInit(at(ctx, `${sub}.bias`), [ch], ctx.weight(`${sub}.bias`, [ch]))
    : g.sharedFloat(`zeros_${ch}`, [ch], 0);
  const mean = g.floatInit(at(ctx, `${sub}.running_mean`), [ch], ctx.weight(`${sub}.running_mean`, [ch]));
  const variance = g.floatInit(at(ctx, `${sub}.running_var`), [ch], ctx.weight(`${sub}.running_var`, [ch]));
  return g.node('BatchNormalization', [x, scale, bias, mean, variance], at(ctx, sub), {
    epsilon: { float: BN_EPS },
  });
}

interface ConvSpec {
  k: number;
  chIn: number;
  chOut: number;
  stride?: number;
  pad?: number;
  dilation?: number;
  depthwise?: boolean;
}

/** A bias-free Conv2d of @tsnas/ops whose weight is `<sub>.weight`. */
export function conv(ctx: OpExportContext, x: string, sub: string, s: ConvSpec): string {
  const shape = [s.k, s.k, s.chIn, s.depthwise ? 1 : s.chOut];
  const w = ctx.weight(`${sub}.weight`, shape);
  return ctx.graph.conv(x, at(ctx, sub), at(ctx, `${sub}.weight`), w, shape, {
    stride: s.stride ?? 1,
    pad: s.pad ?? 0,
    dilation: s.dilation ?? 1,
    depthwise: s.depthwise ?? false,
  });
}

/**
 * ReLU, conv1 on x and conv2 on x shifted by one pixel (both 1x1, stride 2), concat, BN. As in
 * @tsnas/ops, the two convs are one 2x2 stride-2 conv whose (0, 0) tap holds conv1 and (1, 1) tap
 * conv2; SAME_UPPER padding adds the zero row/column at the bottom/right of odd sizes, as tsnas does.
 */
function factorizedReduce(ctx: OpExportContext, x: string, sub: string, chIn: number, chOut: number): string {
  const half = chOut / 2;
  const w1 = ctx.weight(prefixed(sub, 'conv1.weight'), [1, 1, chIn, half]);
  const w2 = ctx.weight(prefixed(sub, 'conv2.weight'), [1, 1, chIn, half]);
  const filter = new Float32Array(4 * chIn * chOut);
  for (let c = 0; c < chIn; c++)
    for (let o = 0; o < half; o++) {
      filter[c * chOut + o] = w1[c * half + o]; // tap (0, 0)
      filter[(3 * chIn + c) * chOut + half + o] = w2[c * half + o]; // tap (1, 1)
    }
  const r = ctx.graph.relu(x, at(ctx, prefixed(sub, 'relu')));
  const y = ctx.graph.conv(
    r,
    at(ctx, prefixed(sub, 'conv')),
    at(ctx, prefixed(sub, 'conv1+conv2.weight')),
    filter,
    [2, 2, chIn, chOut],
    { stride: 2, pad: 0, dilation: 1, depthwise: false, autoPad: 'SAME_UPPER' },
  );
  return batchNorm(ctx, y, prefixed(sub, 'bn'), chOut);
}

/** ReLU -> depthwise conv -> pointwise 1x1 -> BN (DilConv). */
function dilConv(
  ctx: OpExportContext,
  x: string,
  sub: string,
  g: { k: number; stride: number; pad: number; dilation: number; chIn: number; chOut: number },
): string {
  const r = ctx.graph.relu(x, at(ctx, prefixed(sub, 'relu')));
  const d = conv(ctx, r, prefixed(sub, 'depthwise'), {
    k: g.k,
    chIn: g.chIn,
    chOut: g.chIn,
    stride: g.stride,
    pad: g.pad,
    dilation: g.dilation,
    depthwise: true,
  });
  const p = conv(ctx, d, prefixed(sub, 'pointwise'), { k: 1, chIn: g.chIn, chOut: g.chOut });
  return batchNorm(ctx, p, prefixed(sub, 'bn'), g.chOut);
}

function pool(type: 'MaxPool' | 'AveragePool'): OpExporter {
  return (desc, inputs, ctx) => {
    const k = intParam(desc, ctx, 'kernel_size', 3);
    const pad = intParam(desc, ctx, 'padding', 1, 0);
    const stride = intParam(desc, ctx, 'stride', 1);
    const attrs = { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] };
    // count_include_pad 0: tsnas's avg pool divides by the number of real pixels in each window.
    return ctx.graph.node(type, [single(desc, ctx, inputs)], ctx.path, {
      ...attrs,
      ...(type === 'AveragePool' ? { count_include_pad: 0 } : {}),
    });
  };
}

function sepConv(k: number, pad: number): OpExporter {
  return (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const stride = intParam(desc, ctx, 'stride', 1);
    const x = single(desc, ctx, inputs);
    const y = dilConv(ctx, x, 'conv1', { k, stride, pad, dilation: 1, chIn, chOut: chIn });
    return dilConv(ctx, y, 'conv2', { k, stride: 1, pad, dilation: 1, chIn, chOut });
  };
}

function dilConvOp(k: number, pad: number, dilation: number): OpExporter {
  return (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const stride = intParam(desc, ctx, 'stride', 1);
    return dilConv(ctx, single(desc, ctx, inputs), '', { k, stride, pad, dilation, chIn, chOut });
  };
}

function convBnRelu(k: number, pad: number): OpExporter {
  return (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const y = conv(ctx, single(desc, ctx, inputs), 'conv', { k, chIn, chOut, pad });
    return ctx.graph.relu(batchNorm(ctx, y, 'bn', chOut), at(ctx, 'relu'));
  };
}

function stemConv3x3(relu: boolean): OpExporter {
  return (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const y = batchNorm(
      ctx,
      conv(ctx, single(desc, ctx, inputs), 'conv', { k: 3, chIn, chOut, pad: 1 }),
      'bn',
      chOut,
    );
    return relu ? ctx.graph.relu(y, at(ctx, 'relu')) : y;
  };
}

function stemConv3x3S4(extraS2: boolean): OpExporter {
  return (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    if (chOut % 2 !== 0) bad(desc, ctx, 'conv', 'an even chOut for a stride-4 stem');
    const chans: [number, number][] = [
      [chIn, chOut / 2],
      [chOut / 2, chOut],
    ];
    if (extraS2) chans.push([chOut, chOut]);
    let y = single(desc, ctx, inputs);
    chans.forEach(([a, b], i) => {
      if (i > 0) y = ctx.graph.relu(y, at(ctx, `relu${i}`));
      y = conv(ctx, y, `conv${i + 1}`, { k: 3, chIn: a, chOut: b, stride: 2, pad: 1 });
      y = batchNorm(ctx, y, `bn${i + 1}`, b);
    });
    return y;
  };
}

const globalAvgPool: OpExporter = (desc, inputs, ctx) =>
  ctx.graph.node('GlobalAveragePool', [single(desc, ctx, inputs)], ctx.path);

/** The last `out_states` of the cell's states, concatenated along channels. */
function mergedStates(desc: OpDesc, inputs: string[], ctx: OpExportContext): string {
  convChannels(desc, ctx);
  const n = requiredInt(desc, ctx, 'out_states');
  if (inputs.length < n)
    throw new OnnxExportError(`op '${desc.name}' at ${ctx.path} merges ${n} states but got ${inputs.length}`);
  return ctx.graph.concatChannels(inputs.slice(inputs.length - n), at(ctx, 'concat'));
}

const zero: OpExporter = (desc, inputs, ctx) => {
  const stride = intParam(desc, ctx, 'stride', 1);
  let x = single(desc, ctx, inputs);
  if (stride > 1) {
    // x[:, :, ::s, ::s]
    const g = ctx.graph;
    x = g.node(
      'Slice',
      [
        x,
        g.sharedInt64('slice_starts_hw', [0, 0]),
        g.sharedInt64('slice_ends_hw', [2 ** 31 - 1, 2 ** 31 - 1]),
        g.sharedInt64('axes_hw', [2, 3]),
        g.sharedInt64(`slice_steps_${stride}`, [stride, stride]),
      ],
      at(ctx, 'subsample'),
    );
  }
  // Multiplied, not replaced by zeros: NaN and Inf propagate as they do in tsnas.
  return ctx.graph.node('Mul', [x, ctx.graph.sharedFloat('zero', [], 0)], ctx.path);
};

/** Exporters of every built-in op of @tsnas/ops, by op name. */
export const BUILTIN_EXPORTERS: Readonly<Record<string, OpExporter>> = Object.freeze({
  max_pool_3x3: pool('MaxPool'),
  avg_pool_3x3: pool('AveragePool'),
  skip_connect: (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const stride = intParam(desc, ctx, 'stride', 1);
    const x = single(desc, ctx, inputs);
    if (stride === 1) {
      if (chIn !== chOut) bad(desc, ctx, 'conv', 'equal chIn and chOut for skip_connect at stride 1');
      return x;
    }
    if (stride !== 2) bad(desc, ctx, 'stride', '1 or 2 for skip_connect');
    if (chOut % 2 !== 0) bad(desc, ctx, 'conv', 'an even chOut for FactorizedReduce');
    return factorizedReduce(ctx, x, 'op', chIn, chOut);
  },
  sep_conv_3x3: sepConv(3, 1),
  sep_conv_5x5: sepConv(5, 2),
  sep_conv_7x7: sepConv(7, 3),
  dil_conv_3x3: dilConvOp(3, 2, 2),
  dil_conv_5x5: dilConvOp(5, 4, 2),
  convbnrelu_3x3: convBnRelu(3, 1),
  convbnrelu_1x1: convBnRelu(1, 0),
  none: zero,
  identity: (desc, inputs, ctx) => {
    if (intParam(desc, ctx, 'stride', 1) !== 1) bad(desc, ctx, 'stride', '1 for an identity');
    return single(desc, ctx, inputs);
  },
  prepr_reduce: (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    if (chOut % 2 !== 0) bad(desc, ctx, 'conv', 'an even chOut for FactorizedReduce');
    return factorizedReduce(ctx, single(desc, ctx, inputs), '', chIn, chOut);
  },
  prepr_normal: (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const r = ctx.graph.relu(single(desc, ctx, inputs), at(ctx, 'relu'));
    return batchNorm(ctx, conv(ctx, r, 'conv', { k: 1, chIn, chOut }), 'bn', chOut);
  },
  stem_conv3x3: stemConv3x3(false),
  stem_conv3x3Relu: stemConv3x3(true),
  stem_conv3x3_s4: stemConv3x3S4(false),
  stem_conv3x3_s4s2: stemConv3x3S4(true),
  pool_adaptive_avg2d: globalAvgPool,
  pool_mean_tensor: globalAvgPool,
  pool_avg2d7x7: (desc, inputs, ctx) =>
    ctx.graph.node('AveragePool', [single(desc, ctx, inputs)], ctx.path, {
      kernel_shape: [7, 7],
      strides: [7, 7],
    }),
  concate_channels: mergedStates,
  proj_channels: (desc, inputs, ctx) => {
    const { chIn, chOut } = convChannels(desc, ctx);
    const x = mergedStates(desc, inputs, ctx);
    return batchNorm(ctx, conv(ctx, x, 'conv', { k: 1, chIn, chOut }), 'bn', chOut);
  },
  linear: (desc, inputs, ctx) => {
    const nCh = requiredInt(desc, ctx, 'n_ch');
    const nClasses = requiredInt(desc, ctx, 'n_classes');
    const g = ctx.graph;
    const flat = g.node('Flatten', [single(desc, ctx, inputs)], at(ctx, 'flatten'), { axis: 1 });
    // tsnas's Linear weight is [in, out], which is Gemm's B without transB.
    const w = g.floatInit(
      at(ctx, 'linear.weight'),
      [nCh, nClasses],
      ctx.weight('linear.weight', [nCh, nClasses]),
    );
    const b = g.floatInit(at(ctx, 'linear.bias'), [nClasses], ctx.weight('linear.bias', [nClasses]));
    const y = g.node('Gemm', [flat, w, b], at(ctx, 'linear'));
    // [B, n_classes, 1, 1], as LinearOp keeps ops' rank 4 ([B, 1, 1, n_classes] in NHWC).
    return g.node('Unsqueeze', [y, g.sharedInt64('axes_hw', [2, 3])], ctx.path);
  },
  multi_op: (desc, inputs, ctx) => {
    const kids = desc.children;
    const ins = desc.childrenIns;
    if (!kids || !ins || kids.length !== ins.length || kids.length === 0)
      throw new OnnxExportError(
        `op '${desc.name}' at ${ctx.path}: needs children and children_ins of the same non-zero length`,
      );
    const { chIn, chOut } = convChannels(desc, ctx);
    const outs = kids.map((kid, k) => {
      const input = inputs[ins[k]];
      if (input === undefined)
        throw new OnnxExportError(
          `op '${desc.name}' at ${ctx.path}: child ${k} reads input ${ins[k]} of ${inputs.length}`,
        );
      // As MultiOp does: every child runs with the multi_op's conv params.
      const child = kid.clone(false);
      child.params.conv = new ConvMacroParams(chIn, chOut);
      return ctx.child(child, [input], `ops.${k}`);
    });
    const proj = new OpDesc(
      'proj_channels',
      { conv: new ConvMacroParams(chOut * ins.length, chOut), out_states: ins.length },
      1,
    );
    return ctx.child(proj, outs, 'proj');
  },
});
