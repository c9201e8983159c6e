// Optimisers with PyTorch's update rules (weight decay added to the gradient, SGD momentum buffer
// initialised to the first gradient, Adam with bias correction), so hyperparameters from Archai's
// profiles mean the same thing here. State is plain named tensors, for checkpoints.
import * as tf from '@tensorflow/tfjs-core';
import { DOT, fusedSgdAvailable, fusedWeightedSumAvailable, SGD_STEP } from '@tsnas/backend';

export interface OptimizerConf {
  type: string;
  lr: number;
  decay?: number;
  momentum?: number;
  nesterov?: boolean;
  betas?: [number, number];
  eps?: number;
}

export interface Optimizer {
  readonly conf: OptimizerConf;
  /** Applies one update with learning rate `lr` to every variable that has a gradient. */
  step(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): void;
  /** Named state tensors (momentum buffers, Adam moments) plus scalar state. */
  getState(): { tensors: Map<string, tf.Tensor>; scalars: Record<string, number> };
  setState(state: { tensors: Map<string, tf.Tensor>; scalars: Record<string, number> }): void;
  dispose(): void;
}

export class OptimizerConfigError extends Error {
  readonly exitCode = 2;
}

export class SGD implements Optimizer {
  private buffers = new Map<string, tf.Variable>();
  constructor(readonly conf: OptimizerConf) {}

  step(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): void {
    const mu = this.conf.momentum ?? 0;
    const wd = this.conf.decay ?? 0;
    const nesterov = this.conf.nesterov ?? false;
    if (fusedSgdAvailable()) {
      // One kernel per variable on wasm instead of ~8 ops (thousands per step for a supernet).
      const attrs = { lr, momentum: mu, weightDecay: wd, nesterov };
      for (const [name, v] of vars) {
        const g = grads.get(name);
        if (!g) continue;
        const buf = this.buffers.get(name);
        const inputs: tf.NamedTensorMap = buf ? { v, g, buf } : { v, g };
        const [next, nextBuf] = tf.engine().runKernel(SGD_STEP, inputs, attrs) as unknown as tf.Tensor[];
        v.assign(next);
        next.dispose();
        if (nextBuf) {
          if (buf) buf.assign(nextBuf);
          else this.buffers.set(name, tf.variable(nextBuf, false));
          nextBuf.dispose();
        }
      }
      return;
    }
    tf.tidy(() => {
      for (const [name, v] of vars) {
        const g0 = grads.get(name);
        if (!g0) continue;
        let g = wd !== 0 ? tf.add(g0, tf.mul(v, wd)) : g0;
        if (mu !== 0) {
          const buf = this.buffers.get(name);
          let next: tf.Tensor;
          if (!buf) {
            next = g;
            this.buffers.set(name, tf.variable(g, false));
          } else {
            next = tf.add(tf.mul(buf, mu), g);
            buf.assign(next);
          }
          g = nesterov ? tf.add(g, tf.mul(next, mu)) : next;
        }
        v.assign(tf.sub(v, tf.mul(g, lr)));
      }
    });
  }

  /** The momentum buffer of a variable (the unrolled DARTS step reads it). */
  momentumBuffer(name: string): tf.Variable | undefined {
    return this.buffers.get(name);
  }

  getState() {
    const tensors = new Map<string, tf.Tensor>();
    for (const [k, v] of this.buffers) tensors.set(`momentum.${k}`, v.clone());
    return { tensors, scalars: {} };
  }

  setState(state: { tensors: Map<string, tf.Tensor>; scalars: Record<string, number> }): void {
    this.dispose();
    for (const [k, t] of state.tensors) {
      if (k.startsWith('momentum.')) this.buffers.set(k.slice(9), tf.variable(t, false));
    }
  }

  dispose(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }
}

export class Adam implements Optimizer {
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();
  private t = 0;
  constructor(readonly conf: OptimizerConf) {}

  step(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): void {
    const [b1, b2] = this.conf.betas ?? [0.9, 0.999];
    const eps = this.conf.eps ?? 1e-8;
    const wd = this.conf.decay ?? 0;
    this.t += 1;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of vars) {
        const g0 = grads.get(name);
        if (!g0) continue;
        const g = wd !== 0 ? tf.add(g0, tf.mul(p, wd)) : g0;
        let m = this.m.get(name);
        let v = this.v.get(name);
        if (!m || !v) {
          m = tf.variable(tf.zerosLike(p), false);
          v = tf.variable(tf.zerosLike(p), false);
          this.m.set(name, m);
          this.v.set(name, v);
        }
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.sqrt(tf.div(v, bc2)), eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), lr / bc1)));
      }
    });
  }

  getState() {
    const tensors = new Map<string, tf.Tensor>();
    for (const [k, t] of this.m) tensors.set(`exp_avg.${k}`, t.clone());
    for (const [k, t] of this.v) tensors.set(`exp_avg_sq.${k}`, t.clone());
    return { tensors, scalars: { step: this.t } };
  }

  setState(state: { tensors: Map<string, tf.Tensor>; scalars: Record<string, number> }): void {
    this.dispose();
    this.t = state.scalars.step ?? 0;
    for (const [k, t] of state.tensors) {
      if (k.startsWith('exp_avg.')) this.m.set(k.slice(8), tf.variable(t, false));
      else if (k.startsWith('exp_avg_sq.')) this.v.set(k.slice(11), tf.variable(t, false));
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

export function createOptimizer(conf: OptimizerConf, keyPath = 'optimizer'): Optimizer {
  switch (conf.type) {
    case 'sgd':
      return new SGD(conf);
    case 'adam':
      return new Adam(conf);
    default:
      throw new OptimizerConfigError(
        `${keyPath}.type: unknown optimizer '${conf.type}', expected 'sgd' or 'adam'`,
      );
  }
}

/** Scales gradients so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_). */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): Map<string, tf.Tensor> {
  const list = [...grads.values()];
  if (list.length === 0) return grads;
  // On wasm one SIMD kernel per gradient (sum of squares as g.g) instead of a square and a
  // reduction of several kernels each: a supernet has hundreds of weight tensors.
  const fused = fusedWeightedSumAvailable();
  const squares = (g: tf.Tensor) =>
    fused && g.dtype === 'float32'
      ? (tf.engine().runKernel(DOT, { a: g, b: g }, {}) as tf.Scalar)
      : tf.sum(tf.square(g));
  const norm = tf.tidy(() => tf.sqrt(tf.addN(list.map(squares))).dataSync()[0]);
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return grads;
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) {
    out.set(k, tf.mul(g, coef));
    g.dispose();
  }
  return out;
}
