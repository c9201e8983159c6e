// The native CPU kernels (native/kernels/cpu_kernels.c, built at install by
// scripts/build-kernels.mjs): the arithmetic-heavy wasm training kernels at the machine's full
// vector width, working in place on the wasm backend's memory. Optional: without the build (no C
// compiler at install, another platform, TSNAS_NATIVE_KERNELS=0) the SIMD module runs them.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import type { SimdKernels } from './simd.js';

/** The SIMD module's kernels that the addon also has (and the ones only it has). */
type NativeKernelName =
  | 'dw_conv'
  | 'dw_conv_input_grad'
  | 'dw_conv_filter_grad'
  | 'pointwise_conv'
  | 'pointwise_input_grad'
  | 'pointwise_filter_grad'
  | 'batch_norm_train'
  | 'batch_norm_grad'
  | 'relu_grad'
  | 'pixel_scale';

/** A SIMD-module kernel's signature with the wasm memory's ArrayBuffer in front. */
type OnMemory<F> = F extends (...args: infer A) => infer R ? (memory: ArrayBuffer, ...args: A) => R : never;

/** The addon's functions: the memory's ArrayBuffer, then the SIMD module's byte offsets and sizes. */
export type NativeCpuKernels = { [K in NativeKernelName]: OnMemory<NonNullable<SimdKernels[K]>> } & {
  /** 'AVX-512', 'AVX2' or '128-bit': the compiled copy the loader picked. */
  vector_width(): string;
};

/** Where the build puts the addon (from src/kernels or dist/kernels alike). */
export const NATIVE_KERNELS_PATH = fileURLToPath(
  new URL('../../native/kernels/build/Release/tsnas_cpu_kernels.node', import.meta.url),
);

export interface NativeKernelsStatus {
  loaded: boolean;
  /** The vector width in use when loaded. */
  isa?: string;
  /** Why not, when not loaded. */
  why?: string;
}

let addon: NativeCpuKernels | null | undefined;
let status: NativeKernelsStatus = { loaded: false, why: 'not loaded yet' };

function disabledByEnv(): boolean {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.TSNAS_NATIVE_KERNELS;
  return v != null && /^(0|false|no|off)$/i.test(v);
}

/** The native kernels, or null (see nativeKernelsStatus for why). Loaded once per thread. */
export function nativeCpuKernels(): NativeCpuKernels | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (disabledByEnv()) {
    status = { loaded: false, why: 'TSNAS_NATIVE_KERNELS=0' };
  } else if (!existsSync(NATIVE_KERNELS_PATH)) {
    status = { loaded: false, why: 'not built (run: tsnas-backend build-kernels)' };
  } else {
    try {
      const loaded = createRequire(import.meta.url)(NATIVE_KERNELS_PATH) as NativeCpuKernels;
      addon = loaded;
      status = { loaded: true, isa: loaded.vector_width() };
    } catch (err) {
      status = { loaded: false, why: `failed to load: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return addon;
}

/** Whether the native kernels are in use in this thread, and which vector width (or why not). */
export function nativeKernelsStatus(): NativeKernelsStatus {
  nativeCpuKernels();
  return { ...status };
}

let enabled = true;

/** Turns the native kernels off (false) or on again for this thread: tests compare both paths. */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The native kernels when loaded and enabled, else null. */
export function activeNativeKernels(): NativeCpuKernels | null {
  return enabled ? nativeCpuKernels() : null;
}
