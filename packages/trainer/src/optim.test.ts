import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { crossEntropy, topkCorrect } from './losses.js';
import { Adam, clipByGlobalNorm, createOptimizer, SGD } from './optimizers.js';
import { lrAt } from './schedules.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function run(opt: SGD | Adam, grads: number[]): number {
  const w = tf.variable(tf.scalar(1));
  const vars = new Map([['w', w]]);
  for (const g of grads) {
    const gt = tf.scalar(g);
    opt.step(vars, new Map([['w', gt]]), 0.1);
    gt.dispose();
  }
  const out = w.dataSync()[0];
  w.dispose();
  opt.dispose();
  return out;
}

describe('optimisers follow PyTorch update rules', () => {
  it('SGD with momentum and weight decay (values computed by hand)', () => {
    expect(run(new SGD({ type: 'sgd', lr: 0.1, momentum: 0.9, decay: 0.01 }), [0.5])).toBeCloseTo(0.949, 6);
    expect(run(new SGD({ type: 'sgd', lr: 0.1, momentum: 0.9, decay: 0.01 }), [0.5, 0.5])).toBeCloseTo(
      0.852151,
      6,
    );
    expect(
      run(new SGD({ type: 'sgd', lr: 0.1, momentum: 0.9, decay: 0.01, nesterov: true }), [0.5]),
    ).toBeCloseTo(0.9031, 6);
  });

  it('Adam with bias correction', () => {
    expect(run(new Adam({ type: 'adam', lr: 0.1, betas: [0.9, 0.999] }), [0.5])).toBeCloseTo(0.9, 6);
    expect(run(new Adam({ type: 'adam', lr: 0.1, betas: [0.9, 0.999] }), [0.5, 0.25])).toBeCloseTo(
      0.806782,
      5,
    );
  });

  it('state round-trips so a resumed optimiser continues identically', () => {
    const a = new SGD({ type: 'sgd', lr: 0.1, momentum: 0.9 });
    const w = tf.variable(tf.scalar(1));
    const g = tf.scalar(0.5);
    a.step(new Map([['w', w]]), new Map([['w', g]]), 0.1);
    const b = new SGD({ type: 'sgd', lr: 0.1, momentum: 0.9 });
    const st = a.getState();
    b.setState(st);
    for (const t of st.tensors.values()) t.dispose();
    const w2 = tf.variable(w.clone());
    a.step(new Map([['w', w]]), new Map([['w', g]]), 0.1);
    b.step(new Map([['w', w2]]), new Map([['w', g]]), 0.1);
    expect(w2.dataSync()[0]).toBeCloseTo(w.dataSync()[0], 7);
    for (const t of [w, w2, g]) t.dispose();
    a.dispose();
    b.dispose();
  });

  it('unknown optimiser type names the key', () => {
    expect(() => createOptimizer({ type: 'rmsprop', lr: 1 }, 'nas.search.trainer.optimizer')).toThrow(
      "nas.search.trainer.optimizer.type: unknown optimizer 'rmsprop'",
    );
  });

  it('clips by global norm like clip_grad_norm_', () => {
    const grads = new Map([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor1d([0, 4])],
    ]);
    const clipped = clipByGlobalNorm(grads, 1);
    expect(Array.from(clipped.get('a')!.dataSync())[0]).toBeCloseTo(0.6, 5);
    expect(Array.from(clipped.get('b')!.dataSync())[1]).toBeCloseTo(0.8, 5);
    for (const t of clipped.values()) t.dispose();
  });
});

describe('schedules', () => {
  it('cosine anneals from lr to min_lr per epoch', () => {
    const c = { type: 'cosine', min_lr: 0.001 };
    expect(lrAt(c, 0.025, 0, 50)).toBeCloseTo(0.025, 9);
    expect(lrAt(c, 0.025, 25, 50)).toBeCloseTo(0.013, 9);
    expect(lrAt(c, 0.025, 50, 50)).toBeCloseTo(0.001, 9);
  });
  it('warmup with multiplier 1 ramps linearly, then cosine over the rest', () => {
    const c = { type: 'cosine', min_lr: 0, warmup: { multiplier: 1, epochs: 2 } };
    expect(lrAt(c, 0.1, 0, 10)).toBe(0);
    expect(lrAt(c, 0.1, 1, 10)).toBeCloseTo(0.05, 9);
    expect(lrAt(c, 0.1, 2, 10)).toBeCloseTo(0.1, 9);
    expect(lrAt(c, 0.1, 6, 10)).toBeCloseTo(0.05, 9);
  });
});

describe('losses', () => {
  it('cross-entropy matches the formula, with and without smoothing', () => {
    const logits = tf.tensor2d([[2, 0, 0]]);
    const y = tf.tensor1d([0], 'int32');
    const p0 = Math.exp(2) / (Math.exp(2) + 2);
    expect(crossEntropy(logits, y).dataSync()[0]).toBeCloseTo(-Math.log(p0), 5);
    const pOther = 1 / (Math.exp(2) + 2);
    const smoothed = -(0.9 + 0.1 / 3) * Math.log(p0) - 2 * (0.1 / 3) * Math.log(pOther);
    expect(crossEntropy(logits, y, 0.1).dataSync()[0]).toBeCloseTo(smoothed, 5);
  });
  it('top-k accuracy counts a label among the k largest logits', () => {
    const logits = tf.tensor2d([
      [0.1, 0.5, 0.4],
      [0.9, 0.05, 0.05],
    ]);
    const y = tf.tensor1d([2, 0], 'int32');
    expect(topkCorrect(logits, y, [1, 2])).toEqual([0.5, 1]);
  });
});

describe('SGD on wasm runs as one fused kernel per variable', () => {
  it.each([
    { momentum: 0.9, decay: 3e-4, nesterov: false },
    { momentum: 0.9, decay: 0.01, nesterov: true },
    { momentum: 0, decay: 0.01, nesterov: false },
  ])('and gives the cpu path exactly: %j', async (conf) => {
    const { initBackend, fusedSgdAvailable } = await import('@tsnas/backend');
    const steps = (backend: string) => {
      const init = tf.tensor2d([1, -2, 3.5, 0.25, 7, -0.125], [2, 3]);
      const w = tf.variable(init);
      init.dispose();
      const opt = new SGD({ type: 'sgd', lr: 0.025, ...conf });
      const vars = new Map([['w', w]]);
      for (let i = 0; i < 4; i++) {
        const g = tf.tensor2d([0.5, -0.25, 1 + i, 0.125, -3, 2 * i], [2, 3]);
        opt.step(vars, new Map([['w', g]]), 0.025 * (1 - i / 8));
        g.dispose();
      }
      const out = Array.from(w.dataSync());
      const stateTensors = [...opt.getState().tensors.values()];
      const state = stateTensors.map((t) => Array.from(t.dataSync()));
      tf.dispose(stateTensors);
      w.dispose();
      opt.dispose();
      return { backend, out, state };
    };
    await initBackend({ backend: 'wasm' });
    expect(fusedSgdAvailable()).toBe(true);
    const before = tf.memory().numTensors;
    const wasm = steps('wasm');
    expect(tf.memory().numTensors - before, 'tensors left behind').toBe(0);
    await tf.setBackend('cpu');
    expect(fusedSgdAvailable()).toBe(false);
    const cpu = steps('cpu');
    expect(wasm.out).toEqual(cpu.out);
    expect(wasm.state).toEqual(cpu.state);
    expect(wasm.state.length).toBe(conf.momentum !== 0 ? 1 : 0);
  });
});

describe('gradient clipping on wasm', () => {
  it('takes the global norm with one SIMD dot per gradient and clips as on cpu', async () => {
    const { initBackend, fusedWeightedSumAvailable } = await import('@tsnas/backend');
    // 4*3+2 values: both the 4-lane blocks and the scalar tail of the dot.
    const values = Array.from({ length: 14 }, (_, i) => Math.sin(i + 1) * (i + 2));
    const clip = () => {
      const grads = new Map<string, tf.Tensor>([
        ['a', tf.tensor2d(values, [2, 7])],
        ['b', tf.tensor1d([3, -4, 12])],
      ]);
      const clipped = clipByGlobalNorm(grads, 2);
      const out = [...clipped.values()].map((t) => Array.from(t.dataSync()));
      tf.dispose([...clipped.values()]);
      return { out };
    };
    await initBackend({ backend: 'wasm' });
    expect(fusedWeightedSumAvailable()).toBe(true);
    const before = tf.memory().numTensors;
    const info = await tf.profile(() => {
      tf.dispose(clipByGlobalNorm(new Map([['a', tf.tensor1d(values)]]), 1).get('a'));
    });
    expect(info.kernelNames).toContain('TsnasDot');
    expect(info.kernelNames).not.toContain('Square');
    const wasm = clip();
    expect(tf.memory().numTensors - before, 'tensors left behind').toBe(0);
    await tf.setBackend('cpu');
    const cpu = clip();
    const norm = Math.hypot(...values, 3, 4, 12);
    expect(cpu.out[1][2]).toBeCloseTo((12 * 2) / norm, 6);
    for (const [i, g] of wasm.out.entries())
      for (const [j, v] of g.entries()) expect(v, `gradient ${i} value ${j}`).toBeCloseTo(cpu.out[i][j], 6);
  });
});
