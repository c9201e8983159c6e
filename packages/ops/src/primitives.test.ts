import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { OpDesc } from '@tsnas/descs';
import { container } from 'tsyringe';
import { beforeAll, describe, expect, it } from 'vitest';
import { opDesc, ramp, useCpu } from './__tests__/fixtures.js';
import { ptOut } from './__tests__/reference.js';
import { createOp, FactorizedReduce, type Op, OpsError } from './index.js';

beforeAll(useCpu);

const C = 4;
const make = (name: string, stride = 1, affine = true, chIn = C, chOut = C, extra = {}) =>
  createOp(container, opDesc(name, chIn, chOut, stride, extra), affine);
const paramCount = (op: Op) => [...op.namedWeights().values()].reduce((n, v) => n + v.size, 0);

// Expected [H_out, C_out] of each edge op from Archai's layer table (§5) and PyTorch's size rule.
const edgeOps: Record<string, (h: number, s: number) => number> = {
  max_pool_3x3: (h, s) => ptOut(h, 3, s, 1),
  avg_pool_3x3: (h, s) => ptOut(h, 3, s, 1),
  skip_connect: (h, s) => (s === 1 ? h : ptOut(h, 1, 2, 0)),
  sep_conv_3x3: (h, s) => ptOut(ptOut(h, 3, s, 1), 3, 1, 1),
  sep_conv_5x5: (h, s) => ptOut(ptOut(h, 5, s, 2), 5, 1, 2),
  sep_conv_7x7: (h, s) => ptOut(ptOut(h, 7, s, 3), 7, 1, 3),
  dil_conv_3x3: (h, s) => ptOut(h, 3, s, 2, 2),
  dil_conv_5x5: (h, s) => ptOut(h, 5, s, 4, 2),
  none: (h, s) => Math.ceil(h / s), // x[:, :, ::s, ::s]
};

describe('edge ops: output shapes follow PyTorch at stride 1 and 2 on odd and even sizes', () => {
  for (const [name, expectedH] of Object.entries(edgeOps)) {
    for (const stride of [1, 2]) {
      for (const h of [7, 8]) {
        it(`${name} stride ${stride} on ${h}x${h}`, () => {
          const op = make(name, stride);
          tf.tidy(() => {
            for (const training of [true, false]) {
              const y = op.forward(ramp([2, h, h, C]), training);
              expect(y.shape).toEqual([2, expectedH(h, stride), expectedH(h, stride), C]);
            }
          });
          op.dispose();
        });
      }
    }
  }

  it('prepr_reduce halves odd and even sizes to ceil(H/2); prepr_normal keeps them', () => {
    for (const h of [7, 8]) {
      const red = make('prepr_reduce', 1, true, 3, 6);
      const norm = make('prepr_normal', 1, true, 3, 6);
      expect(red.forward(ramp([2, h, h, 3]), true).shape).toEqual([2, Math.ceil(h / 2), Math.ceil(h / 2), 6]);
      expect(norm.forward(ramp([2, h, h, 3]), true).shape).toEqual([2, h, h, 6]);
    }
  });

  it('identity returns its input; convbnrelu_3x3/1x1 keep H and map channels', () => {
    const x = ramp([2, 7, 7, C]);
    expect(make('identity').forward(x, true)).toBe(x);
    expect(make('convbnrelu_3x3', 1, true, C, 6).forward(x, true).shape).toEqual([2, 7, 7, 6]);
    expect(make('convbnrelu_1x1', 1, true, C, 6).forward(x, true).shape).toEqual([2, 7, 7, 6]);
    const y = make('convbnrelu_3x3').forward(x, true);
    expect(tf.min(y).dataSync()[0]).toBeGreaterThanOrEqual(0); // ReLU last
  });
});

describe('layer details', () => {
  it('parameter counts and affine flags match the layer table (C=4)', () => {
    // DilConv: depthwise k*k*C + pointwise C*C + BN 2C (affine only).
    expect(paramCount(make('dil_conv_3x3'))).toBe(9 * C + C * C + 2 * C);
    expect(paramCount(make('dil_conv_5x5'))).toBe(25 * C + C * C + 2 * C);
    expect(paramCount(make('sep_conv_3x3'))).toBe(2 * (9 * C + C * C + 2 * C));
    expect(paramCount(make('sep_conv_5x5', 1, false))).toBe(2 * (25 * C + C * C));
    expect(paramCount(make('sep_conv_7x7'))).toBe(2 * (49 * C + C * C + 2 * C));
    // FactorizedReduce: two 1x1 convs C -> C/2 and BN(C).
    expect(paramCount(make('skip_connect', 2))).toBe(2 * C * (C / 2) + 2 * C);
    expect(paramCount(make('skip_connect', 1))).toBe(0);
    expect(paramCount(make('max_pool_3x3'))).toBe(0); // no BN after pooling
    expect(paramCount(make('prepr_normal', 1, false, 3, 6))).toBe(3 * 6);
    const bn = make('prepr_normal', 1, false).namedBuffers();
    expect([...bn.keys()].sort()).toEqual(['bn.running_mean', 'bn.running_var']);
  });

  it('dil_conv_3x3 and dil_conv_5x5 use dilation 2: an impulse reaches only even offsets', () => {
    for (const [name, k] of [
      ['dil_conv_3x3', 3],
      ['dil_conv_5x5', 5],
    ] as const) {
      const n = 9;
      const impulse = tf.buffer([1, n, n, 1]);
      impulse.set(1, 0, 4, 4, 0);
      const op = make(name, 1, true, 1, 1);
      // Eval mode: BN is a fixed affine map, so zero stays (near) zero and taps stay non-zero.
      const y = op.forward(impulse.toTensor() as tf.Tensor4D, false);
      const base = y.arraySync()[0][4][5][0]; // offset (0, 1): no tap reaches it
      const reached: string[] = [];
      y.arraySync()[0].forEach((row, r) =>
        row.forEach(([v], c) => {
          if (Math.abs(v - base) > 1e-7) reached.push(`${r - 4},${c - 4}`);
        }),
      );
      const offsets = Array.from({ length: k }, (_, i) => 2 * (i - (k - 1) / 2));
      const expected = offsets.flatMap((dr) => offsets.map((dc) => `${dr},${dc}`));
      expect(reached.sort()).toEqual(expected.sort());
    }
  });

  it('FactorizedReduce on a 3x3 input: conv1 sees x[::2, ::2], conv2 sees x[1:, 1:] zero-padded at the end', () => {
    const op = new FactorizedReduce(opDesc('prepr_reduce', 1, 2), true);
    op.conv1.weight.assign(tf.ones([1, 1, 1, 1]));
    op.conv2.weight.assign(tf.ones([1, 1, 1, 1]));
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const y = op.forward(x, false); // eval: BN divides by sqrt(1 + eps)
    const s = Math.sqrt(1 + 1e-5);
    expect(y.shape).toEqual([1, 2, 2, 2]);
    const v = Array.from(y.dataSync()).map((a) => a * s);
    const conv1 = [v[0], v[2], v[4], v[6]];
    const conv2 = [v[1], v[3], v[5], v[7]];
    conv1.forEach((a, i) => expect(a).toBeCloseTo([1, 3, 7, 9][i], 5));
    conv2.forEach((a, i) => expect(a).toBeCloseTo([5, 0, 0, 0][i], 5));
  });

  it('none at stride 2 returns zeros of shape x[:, ::2, ::2]', () => {
    const y = make('none', 2).forward(ramp([2, 7, 7, C]), true);
    expect(y.shape).toEqual([2, 4, 4, C]);
    expect(tf.max(tf.abs(y)).dataSync()[0]).toBe(0);
  });

  it('stems: stem_conv3x3 keeps H, _s4 divides by 4, _s4s2 by 8 (PyTorch rounding on odd sizes)', () => {
    for (const h of [15, 16]) {
      const x = ramp([2, h, h, 3]);
      const s2 = (v: number) => ptOut(v, 3, 2, 1);
      expect(make('stem_conv3x3', 1, true, 3, 8).forward(x, true).shape).toEqual([2, h, h, 8]);
      const relu = make('stem_conv3x3Relu', 1, true, 3, 8).forward(x, true);
      expect(tf.min(relu).dataSync()[0]).toBeGreaterThanOrEqual(0);
      expect(make('stem_conv3x3_s4', 1, true, 3, 8).forward(x, true).shape).toEqual([
        2,
        s2(s2(h)),
        s2(s2(h)),
        8,
      ]);
      expect(make('stem_conv3x3_s4s2', 1, true, 3, 8).forward(x, true).shape).toEqual([
        2,
        s2(s2(s2(h))),
        s2(s2(s2(h))),
        8,
      ]);
    }
    expect(paramCount(make('stem_conv3x3_s4', 1, true, 3, 8))).toBe(27 * 4 + 8 + 36 * 8 + 16);
  });

  it('pools, merge ops and linear', () => {
    const x = ramp([2, 7, 7, C]);
    const gap = make('pool_adaptive_avg2d').forward(x, true);
    expect(gap.shape).toEqual([2, 1, 1, C]);
    expect(gap.dataSync()[0]).toBeCloseTo(tf.mean(tf.slice(x, [0, 0, 0, 0], [1, 7, 7, 1])).dataSync()[0], 6);
    expect(make('pool_mean_tensor').forward(x, true).shape).toEqual([2, 1, 1, C]);
    expect(make('pool_avg2d7x7').forward(ramp([2, 14, 15, C]), true).shape).toEqual([2, 2, 2, C]);

    const states = [ramp([2, 5, 5, C]), ramp([2, 5, 5, C], 0.2), ramp([2, 5, 5, C], 0.3)];
    const cat = make('concate_channels', 1, true, 2 * C, 2 * C, { out_states: 2 }).forward(states, true);
    expect(cat.shape).toEqual([2, 5, 5, 2 * C]);
    expect(Array.from(tf.slice(cat, [0, 0, 0, 0], [1, 1, 1, C]).dataSync())).toEqual(
      Array.from(tf.slice(states[1], [0, 0, 0, 0], [1, 1, 1, C]).dataSync()),
    );
    const proj = make('proj_channels', 1, true, 3 * C, C, { out_states: 3 });
    expect(proj.forward(states, true).shape).toEqual([2, 5, 5, C]);
    expect(paramCount(proj)).toBe(3 * C * C + 2 * C);

    const lin = createOp(container, new OpDesc('linear', { n_ch: C, n_classes: 3 }, 1), true);
    expect(paramCount(lin)).toBe(C * 3 + 3);
    expect(lin.forward(gap, true).shape).toEqual([2, 1, 1, 3]);
  });

  it('multi_op applies each child to its input and projects k*C -> C', () => {
    const desc = opDesc('multi_op', C, C, 1);
    desc.children = [
      new OpDesc('sep_conv_3x3', { stride: 1 }, 1),
      new OpDesc('max_pool_3x3', { stride: 1 }, 1),
    ];
    desc.childrenIns = [0, 1];
    desc.inLen = 2;
    const op = createOp(container, desc, true);
    expect(op.forward([ramp([2, 6, 6, C]), ramp([2, 6, 6, C], 0.5)], true).shape).toEqual([2, 6, 6, C]);
    expect(paramCount(op)).toBe(2 * (9 * C + C * C + 2 * C) + 2 * C * C + 2 * C);
    expect(op.canDropPath()).toBe(true);
  });

  it('can_drop_path: skip_connect (any stride), identity, stems, pools, merge ops and linear are never dropped', () => {
    const never = [
      make('skip_connect', 1),
      make('skip_connect', 2),
      make('identity'),
      make('stem_conv3x3', 1, true, 3, 8),
    ];
    never.push(make('pool_adaptive_avg2d'), make('concate_channels', 1, true, C, C, { out_states: 1 }));
    never.push(createOp(container, new OpDesc('linear', { n_ch: C, n_classes: 3 }, 1), true));
    for (const op of never) expect(op.canDropPath(), op.desc.name).toBe(false);
    for (const name of [
      'max_pool_3x3',
      'avg_pool_3x3',
      'sep_conv_3x3',
      'dil_conv_5x5',
      'none',
      'prepr_normal',
    ]) {
      expect(make(name).canDropPath(), name).toBe(true);
    }
  });

  it('bad op params are user errors (exitCode 2) naming the op and key', () => {
    const noConv = () => createOp(container, new OpDesc('sep_conv_3x3', { stride: 1 }, 1), true);
    expect(noConv).toThrow(OpsError);
    expect(noConv).toThrow(/op 'sep_conv_3x3': params.conv/);
    expect(() => make('skip_connect', 3)).toThrow(/params.stride must be 1 or 2/);
    expect(() => make('identity', 2)).toThrow(/params.stride/);
    expect(() => make('prepr_reduce', 1, true, 4, 5)).toThrow(/even chOut/);
    try {
      make('dil_conv_3x3', 0);
    } catch (e) {
      expect((e as OpsError).exitCode).toBe(2);
    }
  });
});

describe('finalize and trainables', () => {
  it('finalize returns a clone of the desc carrying its weights; createOp loads them back', () => {
    const op = make('dil_conv_3x3');
    const { desc, rank } = op.finalize();
    expect(rank).toBeNull();
    expect(desc).not.toBe(op.desc);
    expect(Object.keys(desc.trainables!.weights).sort()).toEqual([
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'bn.weight',
      'depthwise.weight',
      'pointwise.weight',
    ]);
    const copy = createOp(container, desc, true);
    const a = op.namedWeights().get('depthwise.weight')!;
    const b = copy.namedWeights().get('depthwise.weight')!;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(op.ops()).toEqual([{ op, weight: Number.NaN }]);
  });
});
