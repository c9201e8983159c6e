// Forward + backward of every op type a DARTS search or evaluation network uses, on wasm and on
// tensorflow (when built) against the cpu backend: finds kernels (or gradients) a backend is
// missing or computes differently (tfjs-node's padding limits, wasm's pooling bugs).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { randn, relError, runOn, setupBackends, tensor, tensorflowAvailability } from '../../test/helpers.js';
import { dilateFilter } from './training-gradients.js';

beforeAll(async () => {
  await setupBackends();
});

type T4 = tf.Tensor4D;
/** Batch-norm arithmetic without affine parameters (Archai's search-time BN). */
function bn(x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
}
/** ReLU -> depthwise -> 1x1 -> BN. `ref` builds the cpu reference for stride 2 + dilation 2. */
function dilConv(x: tf.Tensor, dw: tf.Tensor, pw: tf.Tensor, stride: number, dil: number, ref: boolean) {
  const k = dw.shape[0];
  const pad = (dil * (k - 1)) / 2;
  const h =
    ref && dil > 1
      ? tf.depthwiseConv2d(tf.relu(x) as T4, dilateFilter(dw as T4, dil, dil), stride, pad)
      : tf.depthwiseConv2d(tf.relu(x) as T4, dw as T4, stride, pad, 'NHWC', dil);
  return bn(tf.conv2d(h, pw as T4, 1, 'valid'));
}

interface Case {
  name: string;
  /** Shapes of the differentiated inputs (data first, then weights). */
  shapes: number[][];
  /** A scalar loss; `ref` is true on the cpu reference run. */
  loss: (xs: tf.Tensor[], ref: boolean) => tf.Tensor;
}

const N = 2;
const C = 4;
const weighted = (y: tf.Tensor) => tf.sum(tf.mul(y, tensor(randn(y.shape, 77))));

const CASES: Case[] = [
  {
    name: 'conv 1x1 C->C (ReLUConvBN preprocessing)',
    shapes: [
      [N, 8, 8, C],
      [1, 1, C, C],
    ],
    loss: ([x, w]) => weighted(bn(tf.conv2d(tf.relu(x) as T4, w as T4, 1, 'valid'))),
  },
  ...[1, 2].flatMap((stride) =>
    [3, 5].map(
      (k): Case => ({
        name: `sep_conv_${k}x${k} stride ${stride}`,
        shapes: [
          [N, 8, 8, C],
          [k, k, C, 1],
          [1, 1, C, C],
          [k, k, C, 1],
          [1, 1, C, C],
        ],
        loss: ([x, d1, p1, d2, p2], ref) =>
          weighted(dilConv(dilConv(x, d1, p1, stride, 1, ref), d2, p2, 1, 1, ref)),
      }),
    ),
  ),
  ...[1, 2].flatMap((stride) =>
    [3, 5].map(
      (k): Case => ({
        name: `dil_conv_${k}x${k} stride ${stride}`,
        shapes: [
          [N, 8, 8, C],
          [k, k, C, 1],
          [1, 1, C, C],
        ],
        loss: ([x, d, p], ref) => weighted(dilConv(x, d, p, stride, 2, ref)),
      }),
    ),
  ),
  {
    name: 'FactorizedReduce (two 1x1 stride-2 convs, x[:,1:,1:], concat, BN)',
    shapes: [
      [N, 8, 8, C],
      [1, 1, C, C / 2],
      [1, 1, C, C / 2],
    ],
    loss: ([x, w1, w2]) => {
      const r = tf.relu(x) as T4;
      const shifted = tf.slice(r, [0, 1, 1, 0], [N, 7, 7, C]);
      const a = tf.conv2d(r, w1 as T4, 2, 'valid');
      const b = tf.conv2d(
        tf.pad(shifted, [
          [0, 0],
          [0, 1],
          [0, 1],
          [0, 0],
        ]),
        w2 as T4,
        2,
        'valid',
      );
      return weighted(bn(tf.concat([a, b], 3)));
    },
  },
  {
    name: 'stem conv 3x3 (3 -> 8 channels, pad 1) + BN',
    shapes: [
      [N, 8, 8, 3],
      [3, 3, 3, 8],
    ],
    loss: ([x, w]) => weighted(bn(tf.conv2d(x as T4, w as T4, 1, 1))),
  },
  {
    name: 'aux head: ReLU, avg pool 5 stride 3, 1x1 conv, BN, ReLU, 2x2 conv, BN, ReLU, linear',
    // The second BN normalises over the batch alone; 8 samples keep it well conditioned.
    shapes: [[8, 8, 8, C], [1, 1, C, 6], [2, 2, 6, 5], [5, 3], [3]],
    loss: ([x, w1, w2, lin, bias]) => {
      let h = tf.avgPool(tf.relu(x) as T4, 5, 3, 'valid');
      h = tf.relu(bn(tf.conv2d(h, w1 as T4, 1, 'valid'))) as T4;
      h = tf.relu(bn(tf.conv2d(h, w2 as T4, 1, 'valid'))) as T4;
      return weighted(tf.add(tf.matMul(tf.reshape(h, [8, 5]), lin as tf.Tensor2D), bias));
    },
  },
  ...[1, 2].map(
    (stride): Case => ({
      name: `max_pool_3x3 stride ${stride} pad 1`,
      shapes: [[N, 7, 7, C]],
      loss: ([x]) => weighted(tf.maxPool(x as T4, 3, stride, 1)),
    }),
  ),
  ...[1, 2].map(
    (stride): Case => ({
      name: `avg_pool_3x3 stride ${stride} pad 1 (count_include_pad=False)`,
      shapes: [[N, 7, 7, C]],
      loss: ([x]) => weighted(tf.avgPool(x as T4, 3, stride, 1)),
    }),
  ),
  {
    name: 'explicit asymmetric padding: conv2d, depthwise (dilation 2, stride 2), max and avg pool',
    shapes: [
      [N, 7, 8, C],
      [3, 2, C, 3],
      [3, 3, C, 1],
    ],
    loss: ([x, w, d], ref) => {
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [2, 0],
        [1, 2],
        [0, 0],
      ];
      const conv = tf.conv2d(x as T4, w as T4, [2, 1], pad);
      const dw = ref
        ? tf.depthwiseConv2d(x as T4, dilateFilter(d as T4, 2, 2), 2, pad)
        : (tf.engine().runKernel(tf.DepthwiseConv2dNative, { x, filter: d }, {
            strides: 2,
            pad,
            dilations: 2,
            dataFormat: 'NHWC',
          } as unknown as tf.NamedAttrMap) as T4);
      // Pools: each pad smaller than its window (TensorFlow's rule; PyTorch's is half the window).
      const maxPad: typeof pad = [
        [0, 0],
        [1, 0],
        [1, 2],
        [0, 0],
      ];
      const avgPad: typeof pad = [
        [0, 0],
        [1, 0],
        [0, 2],
        [0, 0],
      ];
      const pools = tf.add(
        weighted(tf.maxPool(x as T4, [3, 3], [2, 1], maxPad)),
        weighted(tf.avgPool(x as T4, [2, 3], [1, 2], avgPad)),
      );
      return tf.add(tf.add(weighted(conv), weighted(dw)), pools);
    },
  },
  {
    name: 'zero op stride 2: x[:, ::2, ::2] * 0, plus a strided-slice path',
    shapes: [[N, 7, 7, C]],
    loss: ([x]) => {
      const s = tf.stridedSlice(x, [0, 0, 0, 0], [N, 7, 7, C], [1, 2, 2, 1]);
      return tf.add(weighted(tf.mul(s, 0)), weighted(s));
    },
  },
  {
    name: 'batchNorm with affine gamma/beta (FusedBatchNorm) and moments',
    shapes: [[N, 4, 4, C], [C], [C]],
    loss: ([x, gamma, beta]) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return weighted(tf.batchNorm(x, mean, variance, beta, gamma, 1e-5));
    },
  },
  {
    name: 'softmax cross-entropy (tf.losses, and log-softmax with float one-hot labels)',
    shapes: [[6, 10]],
    loss: ([logits]) => {
      const ids = tf.tensor1d([0, 3, 9, 2, 2, 7], 'int32');
      const a = tf.losses.softmaxCrossEntropy(tf.oneHot(ids, 10), logits);
      const smooth = tf.oneHot(ids, 10, 0.91, 0.01, 'float32');
      const b = tf.neg(tf.mean(tf.sum(tf.mul(smooth, tf.logSoftmax(logits)), 1)));
      return tf.add(a, b);
    },
  },
  {
    name: 'MixedOp: softmax(alpha)-weighted sum of op outputs',
    shapes: [[N, 6, 6, C], [3], [3, 3, C, 1], [1, 1, C, C]],
    loss: ([x, alpha, d, p], ref) => {
      const w = tf.softmax(alpha);
      const ops = [tf.maxPool(x as T4, 3, 1, 1), dilConv(x, d, p, 1, 1, ref), tf.mul(x, 0)];
      const mixed = tf.addN(ops.map((o, i) => tf.mul(o, tf.gather(w, i))));
      return weighted(mixed);
    },
  },
  {
    name: 'global average pool, linear, pad, slice, concat, stack, gather',
    shapes: [[N, 5, 5, C], [C, 3], [3]],
    loss: ([x, lin, bias]) => {
      const padded = tf.pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]);
      const cat = tf.concat([tf.slice(padded, [0, 0, 0, 0], [N, 5, 5, C]), x], 3);
      const pooled = tf.mean(cat, [1, 2]);
      const logits = tf.add(
        tf.matMul(tf.slice(pooled, [0, 0], [N, C]) as tf.Tensor2D, lin as tf.Tensor2D),
        bias,
      );
      const picked = tf.gather(logits, tf.tensor1d([1, 0, 1], 'int32'));
      return tf.add(weighted(tf.stack([logits, tf.square(logits)])), weighted(picked));
    },
  },
  {
    name: 'drop-path mask and division, maximum, sqrt, exp/log',
    shapes: [[N, 4, 4, C]],
    loss: ([x]) => {
      const mask = tf.tensor4d([1, 0], [N, 1, 1, 1]);
      const dropped = tf.mul(tf.div(x, 0.8), mask);
      return weighted(tf.add(dropped, tf.log(tf.add(tf.exp(tf.maximum(x, 0.1)), tf.sqrt(tf.square(x))))));
    },
  },
];

const tensorflow = await tensorflowAvailability();
const BACKENDS = [
  { name: 'wasm' as const, skip: '' },
  { name: 'tensorflow' as const, skip: tensorflow.available ? '' : ` (skipped: ${tensorflow.reason})` },
];

describe.each(BACKENDS)('forward + backward on $name matches cpu$skip', ({ name, skip }) => {
  it.skipIf(skip !== '').each(CASES)('$name', async ({ shapes, loss }) => {
    const data = shapes.map((s, i) => randn(s, 1000 + i));
    const run = (ref: boolean) => () => {
      const xs = data.map((d) => tensor(d));
      const { value, grads } = tf.valueAndGrads((...args: tf.Tensor[]) => loss(args, ref) as tf.Scalar)(xs);
      return [value, ...grads];
    };
    const want = await runOn('cpu', run(true));
    const got = await runOn(name, run(false));
    expect(got.values.length).toBe(want.values.length);
    for (let i = 0; i < want.values.length; i++) {
      expect(got.shapes[i]).toEqual(want.shapes[i]);
      const label = i === 0 ? 'loss' : `gradient ${i - 1}`;
      expect(relError(got.values[i], want.values[i]), label).toBeLessThanOrEqual(1e-4);
    }
  });
});
