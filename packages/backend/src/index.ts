export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  type BackendName,
  type InitBackendOptions,
  initBackend,
  NATIVE_PACKAGES,
  type TensorflowDevice,
  type TensorflowThreadOptions,
  wasmBinariesDir,
} from './backend.js';
export { type BackendTiming, measureBackends, type Workload } from './auto.js';
export { BackendError, TensorLeakError } from './errors.js';
export { type GradientSource, gradientsRegistered, registerAllGradients } from './gradients.js';
export {
  convFilterGrad,
  convInputGrad,
  depthwiseConvFilterGrad,
  depthwiseConvInputGrad,
} from './kernels/conv-grads.js';
export { dilateFilter, registerTrainingGradients } from './kernels/training-gradients.js';
export { stridedSliceGrad } from './kernels/slice-grad.js';
export { maxPoolInputGrad } from './kernels/pool-grads.js';
export { registerTensorflowKernels, tensorflowKernels } from './kernels/tensorflow-kernels.js';
export {
  BATCH_NORM_GRAD,
  BATCH_NORM_TRAIN,
  fusedBatchNormAvailable,
  fusedSgdAvailable,
  fusedWeightedSumAvailable,
  fusedPointwiseFilterGradAvailable,
  fusedPointwiseInputGradAvailable,
  fusedPixelScaleAvailable,
  fusedReluGradAvailable,
  POINTWISE_FILTER_GRAD,
  POINTWISE_INPUT_GRAD,
  PIXEL_SCALE,
  DOT,
  RELU_GRAD,
  WEIGHTED_SUM,
  SGD_STEP,
  registerWasmTrainingKernels,
  wasmTrainingKernels,
} from './kernels/wasm-kernels.js';
export {
  NATIVE_KERNELS_PATH,
  type NativeKernelsStatus,
  nativeKernelsStatus,
  setNativeKernelsEnabled,
} from './kernels/native.js';
export { setSimdKernelsEnabled } from './kernels/simd.js';
export { assertNoLeak, assertNoLeakAsync, type MemorySnapshot, memoryCheck } from './memory.js';
export {
  globalRng,
  type RngState,
  SeededRng,
  seedEverything,
  type SeedOptions,
  setGlobalRng,
} from './seed.js';
export {
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  loadSafetensorsSync,
  type NamedArray,
  SAFETENSORS_CHECKSUM_KEY,
  SafetensorsError,
  saveSafetensors,
  writeFileAtomic,
} from './safetensors.js';
