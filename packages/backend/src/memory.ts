// Tensor-leak checks for tests and debug runs: every training step must leave
// tf.memory().numTensors where it found it (apart from what it returns).
import * as tf from '@tensorflow/tfjs-core';
import { TensorLeakError } from './errors.js';

export interface MemorySnapshot {
  numTensors: number;
  numDataBuffers: number;
  numBytes: number;
}

/** The engine's current tensor counts. */
export function memoryCheck(): MemorySnapshot {
  const m = tf.memory();
  return { numTensors: m.numTensors, numDataBuffers: m.numDataBuffers, numBytes: m.numBytes };
}

/** Tensors reachable from a value (a tensor, or arrays / plain objects of them). */
function countTensors(value: unknown, seen = new Set<unknown>()): number {
  if (value == null || typeof value !== 'object' || seen.has(value)) return 0;
  seen.add(value);
  if (value instanceof tf.Tensor) return value.isDisposed ? 0 : 1;
  let n = 0;
  const items = Array.isArray(value) ? value : Object.values(value);
  for (const item of items) n += countTensors(item, seen);
  return n;
}

function check(before: MemorySnapshot, result: unknown, label: string): void {
  const after = memoryCheck();
  const returned = countTensors(result);
  const leaked = after.numTensors - before.numTensors - returned;
  if (leaked !== 0) {
    throw new TensorLeakError(
      `${label}: ${leaked > 0 ? 'leaked' : 'freed'} ${Math.abs(leaked)} tensor(s) ` +
        `(numTensors ${before.numTensors} -> ${after.numTensors}, ${returned} returned)`,
      leaked,
    );
  }
}

/**
 * Runs `fn` and throws a TensorLeakError if the number of live tensors changed by anything other
 * than the tensors it returns (a tensor, or arrays / objects of tensors).
 */
export function assertNoLeak<T>(fn: () => T, label = 'assertNoLeak'): T {
  const before = memoryCheck();
  const result = fn();
  check(before, result, label);
  return result;
}

/** assertNoLeak for async functions. */
export async function assertNoLeakAsync<T>(fn: () => Promise<T>, label = 'assertNoLeak'): Promise<T> {
  const before = memoryCheck();
  const result = await fn();
  check(before, result, label);
  return result;
}
