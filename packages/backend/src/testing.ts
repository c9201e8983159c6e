// For test suites of tsnas packages: whether the tensorflow backend can run here, and why not.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';

export interface TensorflowAvailability {
  available: boolean;
  /** Why not, for a skipped test's name (empty when available). */
  reason: string;
}

let probe: Promise<TensorflowAvailability> | undefined;

/**
 * Initialises the tensorflow backend once if it was built (tsnas-backend setup-tensorflow) and
 * leaves the previously active backend active. Parity suites use it to run or to say why they skip.
 */
export function tensorflowAvailability(): Promise<TensorflowAvailability> {
  probe ??= (async () => {
    const before = tf.getBackend();
    try {
      await initBackend({ backend: 'tensorflow' });
      return { available: true, reason: '' };
    } catch (err) {
      return { available: false, reason: (err as Error).message.split('\n')[0] ?? String(err) };
    } finally {
      if (before != null && before !== tf.getBackend()) await tf.setBackend(before);
    }
  })();
  return probe;
}
