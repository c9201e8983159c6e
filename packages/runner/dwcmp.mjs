import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setNativeKernelsEnabled } from '@tsnas/backend';
await initBackend({ backend: 'wasm' });
const rel = (a, b) => { let m = 0, s = 0; for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); } return m / s; };
for (const [n, h, w, c] of [[2, 7, 9, 8], [64, 28, 28, 8], [64, 14, 14, 16], [64, 7, 7, 32], [4, 28, 28, 8], [1,28,28,8]]) {
  const x = tf.randomNormal([n, h, w, c], 0, 1, 'float32', 3);
  const f = tf.randomNormal([1, 1, c, 1], 0, 1, 'float32', 4);
  const b = tf.randomNormal([c], 0, 1, 'float32', 5);
  const outs = [];
  for (const on of [true, false]) {
    setNativeKernelsEnabled(on);
    outs.push(tf.fused.depthwiseConv2d({ x, filter: f, strides: 1, pad: 'valid', bias: b }).dataSync());
    outs.push(tf.depthwiseConv2d(x, tf.randomNormal([3,3,c,1],0,1,'float32',6), 1, 'same').dataSync());
  }
  console.log(n, h, w, c, rel(outs[0], outs[2]), rel(outs[1], outs[3]));
}
