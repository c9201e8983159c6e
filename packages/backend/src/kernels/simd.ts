// The SIMD kernels of simd/kernels.c, instantiated on the wasm backend's own memory so that they
// read and write tfjs's tensors in place (no copies in or out).
import type * as tf from '@tensorflow/tfjs-core';
import { SIMD_KERNELS_WASM_BASE64 } from './simd-binary.gen.js';

type Ptr = number;

/** The WebAssembly API as far as it is used here (the package builds without the DOM lib). */
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const webAssembly = (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;

/** The module's exports; pointers are byte offsets in the wasm backend's memory. */
export interface SimdKernels {
  dw_conv(...args: [x: Ptr, f: Ptr, bias: Ptr, y: Ptr, ...geometry: number[]]): void;
  dw_conv_input_grad(...args: [dy: Ptr, f: Ptr, dx: Ptr, ...geometry: number[]]): void;
  dw_conv_filter_grad(...args: [x: Ptr, dy: Ptr, df: Ptr, ...geometry: number[]]): void;
  max_pool_grad(...args: [x: Ptr, dy: Ptr, dx: Ptr, ...geometry: number[]]): void;
  copy_rows(src: Ptr, srcStride: number, dst: Ptr, dstStride: number, rows: number, len: number): void;
  batch_norm_train(
    ...args: [
      x: Ptr,
      rm: Ptr,
      rv: Ptr,
      y: Ptr,
      invStd: Ptr,
      newRm: Ptr,
      newRv: Ptr,
      p: number,
      c: number,
      m: number,
      eps: number,
    ]
  ): void;
  sgd_step(
    ...args: [
      v: Ptr,
      g: Ptr,
      buf: Ptr,
      newV: Ptr,
      newBuf: Ptr,
      n: number,
      lr: number,
      mu: number,
      wd: number,
      nesterov: number,
      hasBuf: number,
    ]
  ): void;
  scale_add(y: Ptr, t: Ptr, w: Ptr, n: number, first: number): void;
  dot(a: Ptr, b: Ptr, out: Ptr, n: number): void;
  relu_grad(dy: Ptr, x: Ptr, dx: Ptr, n: number): void;
  pointwise_filter_grad(x: Ptr, dy: Ptr, dw: Ptr, p: number, ci: number, co: number): void;
  batch_norm_grad(
    ...args: [dy: Ptr, xhat: Ptr, scale: Ptr, dx: Ptr, sumDy: Ptr, sumDyXhat: Ptr, p: number, c: number]
  ): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm the SIMD kernels use. */
export interface WasmBackendLike {
  wasm: { asm?: { memory?: object } };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

let compiled: object | null | undefined;
const instances = new WeakMap<object, SimdKernels | null>();
let enabled =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.TSNAS_SIMD_KERNELS !== '0';

function moduleBytes(): Uint8Array {
  const text = atob(SIMD_KERNELS_WASM_BASE64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The SIMD kernels bound to this wasm backend's memory, or null when they cannot run here (no
 * WebAssembly SIMD, a backend that does not expose its memory, or TSNAS_SIMD_KERNELS=0); the
 * callers then use their composite kernels.
 */
export function simdKernels(backend: unknown): SimdKernels | null {
  if (!enabled) return null;
  const b = backend as WasmBackendLike;
  const cached = instances.get(b);
  if (cached !== undefined) return cached;
  let kernels: SimdKernels | null = null;
  const memory = b.wasm?.asm?.memory;
  if (webAssembly != null && memory instanceof webAssembly.Memory && compiled !== null) {
    try {
      compiled ??= new webAssembly.Module(moduleBytes());
      const instance = new webAssembly.Instance(compiled, { env: { memory } });
      kernels = instance.exports as unknown as SimdKernels;
    } catch {
      compiled = null;
      kernels = null;
    }
  }
  instances.set(b, kernels);
  return kernels;
}

/** Turns the SIMD kernels off (false) or on again: tests compare both paths. */
export function setSimdKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** The byte offset of a tensor's data in the wasm backend's memory. */
export function offsetOf(backend: unknown, t: tf.TensorInfo): number {
  const entry = (backend as WasmBackendLike).dataIdMap.get(t.dataId);
  if (entry == null) throw new Error('@tsnas/backend: a tensor given to a SIMD kernel has no wasm data');
  return entry.memoryOffset;
}
