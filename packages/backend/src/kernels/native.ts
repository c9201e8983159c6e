// The native CPU kernels (native/kernels/cpu_kernels.c, built at install by
// scripts/build-kernels.mjs): the arithmetic-heavy wasm training kernels at the machine's full
// vector width, working in place on the wasm backend's memory. Optional: without the build (no C
// compiler at install, another platform, TSNAS_NATIVE_KERNELS=0) the SIMD module runs them.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type Ptr = number;

/** The addon's functions: the wasm memory's ArrayBuffer, then byte offsets and sizes. */
export interface NativeCpuKernels {
  dw_conv(memory: ArrayBuffer, x: Ptr, f: Ptr, bias: Ptr, y: Ptr, ...geometry: number[]): void;
  dw_conv_input_grad(memory: ArrayBuffer, dy: Ptr, f: Ptr, dx: Ptr, ...geometry: number[]): void;
  dw_conv_filter_grad(memory: ArrayBuffer, x: Ptr, dy: Ptr, df: Ptr, ...geometry: number[]): void;
  pointwise_conv(memory: ArrayBuffer, x: Ptr, w: Ptr, y: Ptr, p: number, ci: number, co: number): void;
  pointwise_input_grad(
    memory: ArrayBuffer,
    dy: Ptr,
    w: Ptr,
    dx: Ptr,
    p: number,
    ci: number,
    co: number,
  ): void;
  pointwise_filter_grad(
    memory: ArrayBuffer,
    x: Ptr,
    dy: Ptr,
    dw: Ptr,
    p: number,
    ci: number,
    co: number,
  ): void;
  batch_norm_train(
    memory: ArrayBuffer,
    x: Ptr,
    rm: Ptr,
    rv: Ptr,
    y: Ptr,
    invStd: Ptr,
    newRm: Ptr,
    newRv: Ptr,
    p: number,
    c: number,
    momentum: number,
    eps: number,
  ): void;
  batch_norm_grad(
    memory: ArrayBuffer,
    dy: Ptr,
    xhat: Ptr,
    scale: Ptr,
    dx: Ptr,
    sumDy: Ptr,
    sumDyXhat: Ptr,
    p: number,
    c: number,
  ): void;
  relu_grad(memory: ArrayBuffer, dy: Ptr, x: Ptr, dx: Ptr, n: number): void;
  pixel_scale(memory: ArrayBuffer, x: Ptr, scale: Ptr, y: Ptr, n: number, hw: number, c: number): void;
  /** 'AVX-512', 'AVX2' or '128-bit': the compiled copy the loader picked. */
  vector_width(): string;
}

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
