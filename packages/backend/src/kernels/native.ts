// The native CPU kernels (native/kernels/cpu_kernels.c, built at install by
// scripts/build-kernels.mjs): the arithmetic-heavy wasm training kernels at the machine's full
// vector width, working in place on the wasm backend's memory. Optional: without the build (no C
// compiler at install, another platform, TSNAS_NATIVE_KERNELS=0) the SIMD module runs them.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { kernelsAddon } from '../../scripts/build-kernels.mjs';

/** The loaded addon as far as this loader knows it; simd.ts types its kernels (NativeCpuKernels). */
export interface NativeAddon {
  /** 'AVX-512', 'AVX2' or '128-bit': the compiled copy the loader picked. */
  vector_width(): string;
}

/** Where the build puts the addon (scripts/build-kernels.mjs says it once for both). */
export const NATIVE_KERNELS_PATH: string = kernelsAddon;

export interface NativeKernelsStatus {
  loaded: boolean;
  /** The vector width in use when loaded. */
  isa?: string;
  /** Why not, when not loaded. */
  why?: string;
}

let addon: NativeAddon | null | undefined;
let status: NativeKernelsStatus = { loaded: false, why: 'not loaded yet' };

function disabledByEnv(): boolean {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.TSNAS_NATIVE_KERNELS;
  return v != null && /^(0|false|no|off)$/i.test(v);
}

/** The native kernels, or null (see nativeKernelsStatus for why). Loaded once per thread. */
export function nativeCpuKernels(): NativeAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (disabledByEnv()) {
    status = { loaded: false, why: 'TSNAS_NATIVE_KERNELS=0' };
  } else if (!existsSync(NATIVE_KERNELS_PATH)) {
    status = { loaded: false, why: 'not built (run: tsnas-backend build-kernels)' };
  } else {
    try {
      const loaded = createRequire(import.meta.url)(NATIVE_KERNELS_PATH) as NativeAddon;
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
export function activeNativeKernels(): NativeAddon | null {
  return enabled ? nativeCpuKernels() : null;
}
