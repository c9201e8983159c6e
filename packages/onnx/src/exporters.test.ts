import { ConvMacroParams, OpDesc } from '@tsnas/descs';
import { BUILTIN_OPS, createOp } from '@tsnas/ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_EXPORTERS } from './exporters.js';
import { singleOpModel } from './internal/single-op.js';
import {
  container,
  maxAbsDiff,
  nhwcToNchw,
  randomize,
  rng,
  runOnnx,
  runOp,
  tf,
  uniform,
  useCpu,
  weightsOf,
} from './__tests__/reference.js';

beforeAll(useCpu);

function desc(name: string, chIn: number, chOut: number, stride = 1, extra: Record<string, unknown> = {}) {
  return new OpDesc(name, { conv: new ConvMacroParams(chIn, chOut), stride, ...extra }, 1);
}

interface Case {
  label: string;
  desc: OpDesc;
  /** NHWC shapes of the op's inputs. */
  inputs: [number, number, number, number][];
  affine?: boolean;
}

// 7x7 inputs: odd sizes exercise FactorizedReduce's extra row and the pools' partial windows.
const x7: [number, number, number, number] = [2, 7, 7, 4];
const cases: Case[] = [
  { label: 'max_pool_3x3', desc: desc('max_pool_3x3', 4, 4), inputs: [x7] },
  { label: 'max_pool_3x3 stride 2', desc: desc('max_pool_3x3', 4, 4, 2), inputs: [x7] },
  { label: 'avg_pool_3x3 (padding not counted)', desc: desc('avg_pool_3x3', 4, 4), inputs: [x7] },
  { label: 'avg_pool_3x3 stride 2', desc: desc('avg_pool_3x3', 4, 4, 2), inputs: [x7] },
  { label: 'skip_connect', desc: desc('skip_connect', 4, 4), inputs: [x7] },
  { label: 'skip_connect stride 2 (FactorizedReduce)', desc: desc('skip_connect', 4, 6, 2), inputs: [x7] },
  {
    label: 'skip_connect stride 2 on an even size',
    desc: desc('skip_connect', 4, 6, 2),
    inputs: [[2, 6, 6, 4]],
  },
  { label: 'sep_conv_3x3', desc: desc('sep_conv_3x3', 4, 6), inputs: [x7] },
  { label: 'sep_conv_3x3 stride 2', desc: desc('sep_conv_3x3', 4, 6, 2), inputs: [x7] },
  { label: 'sep_conv_5x5', desc: desc('sep_conv_5x5', 4, 6), inputs: [x7] },
  { label: 'sep_conv_5x5 stride 2', desc: desc('sep_conv_5x5', 4, 6, 2), inputs: [x7] },
  { label: 'sep_conv_7x7', desc: desc('sep_conv_7x7', 4, 4), inputs: [x7] },
  { label: 'dil_conv_3x3', desc: desc('dil_conv_3x3', 4, 6), inputs: [x7] },
  { label: 'dil_conv_3x3 stride 2', desc: desc('dil_conv_3x3', 4, 6, 2), inputs: [x7] },
  { label: 'dil_conv_5x5', desc: desc('dil_conv_5x5', 4, 6), inputs: [x7] },
  { label: 'dil_conv_5x5 stride 2', desc: desc('dil_conv_5x5', 4, 6, 2), inputs: [x7] },
  { label: 'convbnrelu_3x3', desc: desc('convbnrelu_3x3', 4, 6), inputs: [x7] },
  { label: 'convbnrelu_1x1', desc: desc('convbnrelu_1x1', 4, 6), inputs: [x7] },
  { label: 'none', desc: desc('none', 4, 4), inputs: [x7] },
  { label: 'none stride 2', desc: desc('none', 4, 4, 2), inputs: [x7] },
  { label: 'identity', desc: desc('identity', 4, 4), inputs: [x7] },
  { label: 'prepr_reduce', desc: desc('prepr_reduce', 4, 6), inputs: [x7] },
  { label: 'prepr_normal', desc: desc('prepr_normal', 4, 6), inputs: [x7] },
  { label: 'stem_conv3x3', desc: desc('stem_conv3x3', 4, 6), inputs: [x7] },
  { label: 'stem_conv3x3Relu', desc: desc('stem_conv3x3Relu', 4, 6), inputs: [x7] },
  { label: 'stem_conv3x3_s4', desc: desc('stem_conv3x3_s4', 4, 6), inputs: [x7] },
  { label: 'stem_conv3x3_s4s2', desc: desc('stem_conv3x3_s4s2', 4, 6), inputs: [[2, 9, 9, 4]] },
  { label: 'pool_adaptive_avg2d', desc: desc('pool_adaptive_avg2d', 4, 4), inputs: [x7] },
  { label: 'pool_mean_tensor', desc: desc('pool_mean_tensor', 4, 4), inputs: [x7] },
  { label: 'pool_avg2d7x7', desc: desc('pool_avg2d7x7', 4, 4), inputs: [[2, 14, 14, 4]] },
  {
    label: 'concate_channels (the last 2 of 3 states)',
    desc: desc('concate_channels', 8, 8, 1, { out_states: 2 }),
    inputs: [x7, [2, 7, 7, 3], [2, 7, 7, 5]],
  },
  {
    label: 'proj_channels',
    desc: desc('proj_channels', 8, 6, 1, { out_states: 2 }),
    inputs: [x7, [2, 7, 7, 3], [2, 7, 7, 5]],
  },
  { label: 'linear', desc: new OpDesc('linear', { n_ch: 4, n_classes: 3 }, 1), inputs: [[2, 1, 1, 4]] },
  {
    label: 'multi_op (sep_conv_3x3 on input 1, max_pool_3x3 on input 0)',
    desc: new OpDesc(
      'multi_op',
      { conv: new ConvMacroParams(4, 4) },
      2,
      null,
      [new OpDesc('sep_conv_3x3', {}, 1), new OpDesc('max_pool_3x3', {}, 1)],
      [1, 0],
    ),
    inputs: [x7, x7],
  },
  {
    label: 'sep_conv_3x3 without BN affine (search)',
    desc: desc('sep_conv_3x3', 4, 6),
    inputs: [x7],
    affine: false,
  },
];

describe('each built-in op exports with the numbers of its eval-mode forward pass', () => {
  it('every op of @tsnas/ops has an exporter and a case here', () => {
    expect(Object.keys(BUILTIN_EXPORTERS).sort()).toEqual(Object.keys(BUILTIN_OPS).sort());
    const covered = new Set(cases.map((c) => c.desc.name));
    expect(Object.keys(BUILTIN_OPS).filter((n) => !covered.has(n))).toEqual([]);
  });

  cases.forEach((c, i) => {
    it(`${c.label}: onnxruntime equals tsnas within 1e-5`, async () => {
      const affine = c.affine ?? true;
      const op = createOp(container, c.desc.clone(), affine);
      randomize(op.variables(), 100 + i);
      const next = rng(7 + i);
      const xs = c.inputs.map((shape) => {
        const data = uniform(
          shape.reduce((a, b) => a * b, 1),
          next,
          -2,
          2,
        );
        return { nhwc: tf.tensor4d(data, shape), nchw: nhwcToNchw(data, shape), shape };
      });
      const expected = runOp(
        op,
        xs.map((x) => x.nhwc),
      );
      const bytes = singleOpModel(c.desc, weightsOf(op.variables(), 'op.'), xs.length, affine);
      const feeds = Object.fromEntries(
        xs.map((x, k) => [
          `input${k}`,
          { data: x.nchw, shape: [x.shape[0], x.shape[3], x.shape[1], x.shape[2]] },
        ]),
      );
      const { output } = await runOnnx(bytes, feeds);
      for (const x of xs) x.nhwc.dispose();
      op.dispose();
      expect(output.shape).toEqual(expected.shape);
      expect(maxAbsDiff(output.data, expected.data)).toBeLessThan(1e-5);
      // Not trivially equal: the op's output is not all zeros (except `none`'s).
      if (c.desc.name !== 'none') expect(Math.max(...expected.data.map(Math.abs))).toBeGreaterThan(0.01);
    });
  });
});
