// Kernels written as compositions of tfjs ops (shared by the wasm and tensorflow kernel sets).
import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs a composite kernel: the body sees its inputs as tensors and every intermediate it creates is
 * freed. Inputs that arrive as bare TensorInfos get a wrapper that holds its own reference.
 */
export function composite(
  args: Parameters<tf.KernelFunc>[0],
  body: (inputs: Record<string, tf.Tensor>) => tf.Tensor,
): tf.Tensor {
  const engine = tf.engine();
  return tf.tidy(() => {
    const wrapped: Record<string, tf.Tensor> = {};
    for (const [name, info] of Object.entries(args.inputs)) {
      if (info == null) continue;
      if (info instanceof tf.Tensor) {
        wrapped[name] = info;
      } else {
        // The wrapper is disposed with the tidy scope, which drops one backend reference.
        (args.backend as tf.KernelBackend).incRef(info.dataId);
        wrapped[name] = engine.makeTensorFromTensorInfo(info);
      }
    }
    return body(wrapped);
  });
}
