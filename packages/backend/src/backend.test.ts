import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendError, initBackend, registerWasmTrainingKernels } from './index.js';

describe('initBackend', () => {
  it('auto picks wasm when neither tfjs-node package is installed, and says why', async () => {
    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.reason).toContain('@tensorflow/tfjs-node not installed');
    expect(info.reason).toContain('@tensorflow/tfjs-node-gpu not installed');
    // The training kernels are in place and gradients work.
    expect(tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, 'wasm')).toBeDefined();
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2]));
    expect(Array.from(g.dataSync())).toEqual([2, 4]);
  });

  it("rejects 'tensorflow' with exit code 2 and the install command", async () => {
    const err = await initBackend({ backend: 'tensorflow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/backend 'tensorflow' needs @tensorflow\/tfjs-node/);
    expect((err as Error).message).toContain('pnpm add @tensorflow/tfjs-node@4.22.0');
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
