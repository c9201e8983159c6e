// The SIMD kernels of simd/kernels.c, instantiated on the wasm backend's own memory so that they
// read and write tfjs's tensors in place (no copies in or out).
import type * as tf from '@tensorflow/tfjs-core';
import { activeNativeKernels, type NativeAddon, nativeCpuKernels } from './native.js';
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
  /** 1x1 convolution y[p, co] = x[p, ci] . w[ci, co]: only with the native kernels. */
  pointwise_conv?(x: Ptr, w: Ptr, y: Ptr, p: number, ci: number, co: number): void;
  /** Its input gradient dx[p, ci] = dy[p, co] . w^T: only with the native kernels. */
  pointwise_input_grad?(dy: Ptr, w: Ptr, dx: Ptr, p: number, ci: number, co: number): void;
  /** y[b, q, ch] = x[b, q, ch] * scale[q]: only with the native kernels. */
  pixel_scale?(x: Ptr, scale: Ptr, y: Ptr, n: number, hw: number, c: number): void;
  /** The native kernels' vector width when they stand in for the module's ('AVX-512', ...). */
  native?: string;
}

/** The parts of tfjs-backend-wasm's BackendWasm the SIMD kernels use. */
export interface WasmBackendLike {
  wasm: { asm?: { memory?: object } };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

let compiled: object | null | undefined;
/** Per backend: the module's kernels, and the same with the native kernels standing in. */
const instances = new WeakMap<object, { wasm: SimdKernels; native: SimdKernels | null } | null>();
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
  let cached = instances.get(b);
  if (cached === undefined) {
    cached = null;
    const memory = b.wasm?.asm?.memory;
    if (webAssembly != null && memory instanceof webAssembly.Memory && compiled !== null) {
      try {
        compiled ??= new webAssembly.Module(moduleBytes());
        const instance = new webAssembly.Instance(compiled, { env: { memory } });
        const wasm = instance.exports as unknown as SimdKernels;
        const native = nativeCpuKernels();
        cached = {
          wasm,
          native: native
            ? withNative(wasm, native as NativeCpuKernels, memory as { buffer: ArrayBuffer })
            : null,
        };
      } catch {
        compiled = null;
      }
    }
    instances.set(b, cached);
  }
  if (cached == null) return null;
  if (cached.native != null && activeNativeKernels() != null) return cached.native;
  return cached.wasm;
}

/** The SIMD module's kernels that the native addon also has (and the ones only it has). */
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

/** A kernel's signature with the wasm memory's ArrayBuffer in front. */
type OnMemory<F> = F extends (...args: infer A) => infer R ? (memory: ArrayBuffer, ...args: A) => R : never;

/** native/kernels/cpu_kernels.c's functions: the memory's ArrayBuffer, then the module's arguments. */
type NativeCpuKernels = NativeAddon & { [K in NativeKernelName]: OnMemory<NonNullable<SimdKernels[K]>> };

/** Channel counts the native depthwise kernels take (a divisor or a multiple of 16). */
function nativeDepthwise(c: number, kw: number): boolean {
  return (16 % c === 0 || c % 16 === 0) && kw <= 64;
}

/**
 * The module's kernels with the native ones standing in where they cover the call: same
 * arguments, plus the memory's current buffer (it is replaced when the memory grows).
 */
function withNative(
  wasm: SimdKernels,
  native: NativeCpuKernels,
  memory: { buffer: ArrayBuffer },
): SimdKernels {
  return {
    ...wasm,
    native: native.vector_width(),
    dw_conv: (...a) =>
      nativeDepthwise(a[7], a[11]) ? native.dw_conv(memory.buffer, ...a) : wasm.dw_conv(...a),
    dw_conv_input_grad: (...a) =>
      nativeDepthwise(a[6], a[10])
        ? native.dw_conv_input_grad(memory.buffer, ...a)
        : wasm.dw_conv_input_grad(...a),
    dw_conv_filter_grad: (...a) =>
      nativeDepthwise(a[6], a[10])
        ? native.dw_conv_filter_grad(memory.buffer, ...a)
        : wasm.dw_conv_filter_grad(...a),
    pointwise_filter_grad: (x, dy, dw, p, ci, co) =>
      native.pointwise_filter_grad(memory.buffer, x, dy, dw, p, ci, co),
    pointwise_conv: (x, w, y, p, ci, co) => native.pointwise_conv(memory.buffer, x, w, y, p, ci, co),
    batch_norm_train: (...a) => native.batch_norm_train(memory.buffer, ...a),
    batch_norm_grad: (...a) => native.batch_norm_grad(memory.buffer, ...a),
    relu_grad: (dy, x, dx, n) => native.relu_grad(memory.buffer, dy, x, dx, n),
    pixel_scale: (x, scale, y, n, hw, c) => native.pixel_scale(memory.buffer, x, scale, y, n, hw, c),
    pointwise_input_grad: (dy, w, dx, p, ci, co) =>
      native.pointwise_input_grad(memory.buffer, dy, w, dx, p, ci, co),
  };
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
