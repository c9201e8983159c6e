import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  AUTO_TENSORFLOW_MIN_WORKLOAD,
  BackendError,
  initBackend,
  registerWasmTrainingKernels,
} from './index.js';
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
    'auto weighs the workload: wasm for a small network on a CPU build, tensorflow otherwise',
    async () => {
      const small = await initBackend({ workload: AUTO_TENSORFLOW_MIN_WORKLOAD - 1 });
      expect(small.name).toBe('wasm');
      expect(small.reason).toMatch(
        /^auto: wasm, not the CPU tensorflow build: the network is small \(24,999 activations/,
      );
      const large = await initBackend({ workload: AUTO_TENSORFLOW_MIN_WORKLOAD });
      expect(large.name).toBe('tensorflow');
      expect(large.reason).toMatch(/^auto: @tensorflow\/tfjs-node on TensorFlow/);
      expect((await initBackend()).name).toBe('tensorflow');
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
