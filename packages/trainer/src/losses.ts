import * as tf from '@tensorflow/tfjs-core';

/** Mean softmax cross-entropy over integer labels, with optional label smoothing. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, smoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const nClasses = logits.shape[1];
    const logp = tf.logSoftmax(logits);
    let target = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), nClasses), 'float32');
    if (smoothing > 0) target = tf.add(tf.mul(target, 1 - smoothing), smoothing / nClasses);
    return tf.mean(tf.neg(tf.sum(tf.mul(target, logp), 1))) as tf.Scalar;
  });
}

/** Fraction of rows whose label is among the k largest logits. */
export function topkCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D, ks: number[]): number[] {
  return tf.tidy(() => {
    const maxK = Math.min(Math.max(...ks), logits.shape[1]);
    const { indices } = tf.topk(logits, maxK);
    const hits = tf.cast(tf.equal(indices, tf.expandDims(tf.cast(labels, 'int32'), 1)), 'float32');
    const cum = tf.sum(tf.cumsum(hits, 1), 0).dataSync(); // cum[k-1] = rows with label in top k
    return ks.map((k) => cum[Math.min(k, maxK) - 1] / logits.shape[0]);
  });
}
