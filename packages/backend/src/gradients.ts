// tfjs-core registers no gradients by itself (the @tensorflow/tfjs umbrella package does it), and
// its register_all_gradients module cannot be loaded by plain Node (ES syntax in a CommonJS
// package). We ship it pre-bundled as vendor/tfjs-gradients.gen.js (scripts/bundle-gradients.mjs).
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from './errors.js';

const PROBES = ['Sum', 'Add', 'Multiply', 'Conv2D', 'Relu', 'Concat', 'Reshape'];

/** True when tfjs's own gradients are registered (by us, @tensorflow/tfjs or tfjs-node). */
export function gradientsRegistered(): boolean {
  return PROBES.every((name) => tf.getGradient(name) != null);
}

export type GradientSource = 'present' | 'vendor' | 'tfjs-core-esm';

/**
 * Registers tfjs-core's gradient definitions once per process; a no-op when something else
 * (@tensorflow/tfjs, tfjs-node) already did. Returns where they came from.
 */
export async function registerAllGradients(): Promise<GradientSource> {
  if (gradientsRegistered()) return 'present';
  const errors: string[] = [];
  try {
    // A computed specifier: the file is generated, and has no type declarations.
    const vendor: string = new URL('../vendor/tfjs-gradients.gen.js', import.meta.url).href;
    await import(vendor);
    if (gradientsRegistered()) return 'vendor';
  } catch (err) {
    errors.push((err as Error).message);
  }
  try {
    // Works where a bundler transforms the ES module (vitest/vite), e.g. before the first build.
    const esm: string = '@tensorflow/tfjs-core/dist/register_all_gradients.js';
    await import(esm);
    if (gradientsRegistered()) return 'tfjs-core-esm';
  } catch (err) {
    errors.push((err as Error).message);
  }
  throw new BackendError(
    `tfjs gradients could not be registered (${errors.join('; ')}); ` +
      'run `pnpm --filter @tsnas/backend build` to generate vendor/tfjs-gradients.gen.js',
  );
}
