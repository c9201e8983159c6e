import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { TensorLeakError } from './errors.js';
import { assertNoLeak, assertNoLeakAsync, memoryCheck } from './memory.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('assertNoLeak', () => {
  it('passes for tidy code and allows returned tensors', () => {
    const before = memoryCheck().numTensors;
    const out = assertNoLeak(() => tf.tidy(() => tf.add(tf.ones([2]), tf.ones([2]))));
    expect(memoryCheck().numTensors).toBe(before + 1);
    expect(Array.from(out.dataSync())).toEqual([2, 2]);
    const pair = assertNoLeak(() => ({ a: tf.zeros([1]), b: [tf.ones([1])] }));
    tf.dispose([out, pair.a, ...pair.b]);
    expect(memoryCheck().numTensors).toBe(before);
  });

  it('throws a TensorLeakError naming the label and count', () => {
    let kept: tf.Tensor[] = [];
    try {
      assertNoLeak(() => {
        kept = [tf.ones([3]), tf.zeros([3])];
        return 1;
      }, 'leaky step');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TensorLeakError);
      expect((err as TensorLeakError).leaked).toBe(2);
      expect((err as Error).message).toMatch(/^leaky step: leaked 2 tensor/);
    }
    tf.dispose(kept);
  });

  it('checks async functions too', async () => {
    await expect(assertNoLeakAsync(async () => tf.tidy(() => 3))).resolves.toBe(3);
    let kept: tf.Tensor | undefined;
    await expect(
      assertNoLeakAsync(async () => {
        kept = tf.ones([1]);
      }),
    ).rejects.toBeInstanceOf(TensorLeakError);
    kept?.dispose();
  });
});
