import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BackendError, initBackend, registerWasmTrainingKernels } from './index.js';
import { tensorflowAvailability } from './testing.js';

const tensorflow = await tensorflowAvailability();

describe('initBackend', () => {
  it.runIf(!tensorflow.available)(
    'auto takes wasm when the tensorflow backend is not built, and says why',
    async () => {
      const info = await initBackend();
      expect(info.name).toBe('wasm');
      expect(tf.getBackend()).toBe('wasm');
      expect(info.reason).toMatch(
        /@tensorflow\/tfjs-node (not installed|failed to load \(installed, but its native binding is not built: run npx @tsnas\/backend setup-tensorflow)/,
      );
      expect(info.reason).toContain('@tensorflow/tfjs-node-gpu not installed');
    },
  );

  it.runIf(!tensorflow.available)(
    "rejects 'tensorflow' with exit code 2 and the command that builds it",
    async () => {
      const err = await initBackend({ backend: 'tensorflow' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(/backend 'tensorflow' needs @tensorflow\/tfjs-node/);
      expect((err as Error).message).toContain('setup-tensorflow');
    },
  );

  it.runIf(tensorflow.available)(
    "'tensorflow' loads the built binding and reports TensorFlow's devices",
    async () => {
      const info = await initBackend({ backend: 'tensorflow' });
      expect(info).toMatchObject({ name: 'tensorflow', package: '@tensorflow/tfjs-node' });
      expect(tf.getBackend()).toBe('tensorflow');
      expect(info.tensorflowVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(info.devices?.some((d) => d.type === 'CPU' && d.name.endsWith('device:CPU:0'))).toBe(true);
      expect(info.reason).toContain(`TensorFlow ${info.tensorflowVersion}`);
      // Our padding-complete kernels are in place: PyTorch-style explicit padding in a backprop.
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.avgPool(x as tf.Tensor4D, 3, 2, 1)))(
        tf.ones([1, 4, 4, 1]),
      );
      expect(g.shape).toEqual([1, 4, 4, 1]);
    },
  );

  it.runIf(tensorflow.available)(
    'auto with a workload measures wasm against the CPU tensorflow build, takes the faster and caches the timing',
    async () => {
      const saved = process.env.TSNAS_CACHE_DIR;
      const dir = mkdtempSync(path.join(tmpdir(), 'tsnas-auto-'));
      process.env.TSNAS_CACHE_DIR = dir;
      try {
        const workload = {
          key: 'test: 3x3 conv, 16x24x24x8',
          label: 'one forward + backward of a 3x3 convolution at 16x24x24x8',
          prepare() {
            const x = tf.randomNormal([16, 24, 24, 8]) as tf.Tensor4D;
            const w = tf.variable(tf.randomNormal([3, 3, 8, 8]));
            return {
              step: () =>
                tf.tidy(() => {
                  const { value, grads } = tf.variableGrads(
                    () => tf.sum(tf.relu(tf.conv2d(x, w as tf.Tensor4D, 1, 1))) as tf.Scalar,
                  );
                  value.dataSync();
                  for (const g of Object.values(grads)) g.dataSync();
                }),
              dispose: () => tf.dispose([x, w]),
            };
          },
        };
        const first = await initBackend({ workload });
        const m = first.reason.match(/at 16x24x24x8: wasm (\d+) ms, tensorflow (\d+) ms \(measured now\)/);
        expect(m, first.reason).not.toBeNull();
        const faster = Number(m![1]) < Number(m![2]) ? 'wasm' : 'tensorflow';
        expect(first.name).toBe(faster);
        expect(tf.getBackend()).toBe(faster);
        const cache = JSON.parse(readFileSync(path.join(dir, 'auto-backend.json'), 'utf8'));
        expect(Object.values(cache)).toHaveLength(1);
        const again = await initBackend({ workload });
        expect(again.name).toBe(faster);
        expect(again.reason).toMatch(/, cached\)/);
        // Without a workload there is nothing to measure: a built tensorflow is taken.
        expect((await initBackend()).name).toBe('tensorflow');
      } finally {
        if (saved === undefined) delete process.env.TSNAS_CACHE_DIR;
        else process.env.TSNAS_CACHE_DIR = saved;
      }
    },
  );

  it('the training kernels are in place on wasm and gradients work', async () => {
    await initBackend({ backend: 'wasm' });
    expect(tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, 'wasm')).toBeDefined();
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2]));
    expect(Array.from(g.dataSync())).toEqual([2, 4]);
  });

  it('rejects thread settings that are not whole numbers', async () => {
    const err = await initBackend({ backend: 'tensorflow', tensorflow: { intraOpThreads: 1.5 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe(
      "tensorflow.intraOpThreads: expected a whole number >= 0 (0 = TensorFlow's default), got 1.5",
    );
  });

  it('rejects an unknown backend name', async () => {
    const err = await initBackend({ backend: 'gpu' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as Error).message).toBe("backend: expected one of auto, tensorflow, wasm, cpu, got 'gpu'");
  });

  it('switches between cpu and wasm and can be called again', async () => {
    expect((await initBackend({ backend: 'cpu' })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const again = await initBackend({ backend: 'wasm' });
    expect(again).toMatchObject({ name: 'wasm', package: '@tensorflow/tfjs-backend-wasm' });
    expect(tf.getBackend()).toBe('wasm');
  });

  it('registers the wasm kernels idempotently', async () => {
    await initBackend({ backend: 'wasm' });
    const before = tf.getKernel(tf.Conv2DBackpropFilter, 'wasm');
    expect(registerWasmTrainingKernels()).toEqual([]);
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBe(before);
  });
});
