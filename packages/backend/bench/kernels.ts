// Median time per gradient kernel on the DARTS search supernet's shapes (batch 32), wasm with our
// kernels vs the cpu backend. Prints one JSON document. Other processes may share the CPU, so each
// number is the median, over many repetitions after warm-up, of this process's CPU time
// (process.cpuUsage: both backends run on this one thread), which contention inflates far less
// than wall time; the wall-time median is reported beside it.
//
//   pnpm --filter @tsnas/backend bench [-- --reps 15 --cpu-reps 3 --only dwFilter --no-cpu]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/index.js';

type Shape4 = [number, number, number, number];
interface Case {
  name: string;
  kernel: string;
  inputs: Record<string, Shape4>;
  attrs: Record<string, unknown>;
}

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const reps = flag('reps', 15);
const cpuReps = flag('cpu-reps', 3);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const withCpu = !args.includes('--no-cpu');

const N = 32;
const STAGES: [number, number][] = [
  [32, 16],
  [16, 32],
  [8, 64],
];

function cases(): Case[] {
  const out: Case[] = [];
  for (const [h, c] of STAGES) {
    const tag = `${h}x${h}x${c}`;
    for (const k of [3, 5])
      for (const d of [1, 2])
        for (const s of [1, 2]) {
          const pad = (d * (k - 1)) / 2;
          const info = tf.backend_util.computeConv2DInfo(
            [N, h, h, c],
            [k, k, c, 1],
            s,
            d,
            pad,
            undefined,
            true,
          );
          const common = { strides: s, pad, dilations: d };
          const label = `${tag} k${k} d${d} s${s}`;
          out.push({
            name: `dwInput ${label}`,
            kernel: tf.DepthwiseConv2dNativeBackpropInput,
            inputs: { dy: info.outShape, filter: [k, k, c, 1] },
            attrs: { ...common, inputShape: [N, h, h, c] },
          });
          out.push({
            name: `dwFilter ${label}`,
            kernel: tf.DepthwiseConv2dNativeBackpropFilter,
            inputs: { x: [N, h, h, c], dy: info.outShape },
            attrs: { ...common, filterShape: [k, k, c, 1] },
          });
        }
    out.push({
      name: `conv1x1Filter ${tag} C->C`,
      kernel: tf.Conv2DBackpropFilter,
      inputs: { x: [N, h, h, c], dy: [N, h, h, c] },
      attrs: { strides: 1, pad: 'valid', dataFormat: 'NHWC', filterShape: [1, 1, c, c] },
    });
    out.push({
      name: `conv1x1Input ${tag} C->C`,
      kernel: tf.Conv2DBackpropInput,
      inputs: { dy: [N, h, h, c], filter: [1, 1, c, c] },
      attrs: { strides: 1, pad: 'valid', dataFormat: 'NHWC', inputShape: [N, h, h, c] },
    });
    out.push({
      name: `maxPoolGrad ${tag} k3 s1 p1`,
      kernel: tf.MaxPoolGrad,
      inputs: { dy: [N, h, h, c], input: [N, h, h, c], output: [N, h, h, c] },
      attrs: { filterSize: 3, strides: 1, pad: 1 },
    });
  }
  out.push({
    name: 'stemConvFilter 32x32 3->48 k3',
    kernel: tf.Conv2DBackpropFilter,
    inputs: { x: [N, 32, 32, 3], dy: [N, 32, 32, 48] },
    attrs: { strides: 1, pad: 1, dataFormat: 'NHWC', filterShape: [3, 3, 3, 48] },
  });
  return only ? out.filter((c) => c.name.includes(only)) : out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function time(backend: string, c: Case, n: number): Promise<{ cpu: number; wall: number }> {
  await tf.setBackend(backend);
  const inputs: Record<string, tf.Tensor> = {};
  for (const [name, shape] of Object.entries(c.inputs))
    inputs[name] = tf.randomNormal(shape, 0, 1, 'float32', 1);
  if (c.kernel === tf.MaxPoolGrad) {
    inputs.output.dispose();
    inputs.output = tf.maxPool(inputs.input as tf.Tensor4D, 3, 1, 1);
  }
  const run = () => {
    const out = tf.engine().runKernel(c.kernel, inputs, c.attrs as tf.NamedAttrMap) as tf.Tensor;
    out.dataSync(); // wasm and cpu run synchronously; this also forces any lazy work
    out.dispose();
  };
  // The pure-JS cpu backend takes seconds per call on these shapes: one warm-up is enough there.
  for (let i = backend === 'cpu' ? 1 : 2; i > 0; i--) run();
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wallMs.push(performance.now() - t0);
    const dc = process.cpuUsage(c0);
    cpuMs.push((dc.user + dc.system) / 1000);
  }
  tf.dispose(Object.values(inputs));
  return { cpu: median(cpuMs), wall: median(wallMs) };
}

/** Forward + backward of one DARTS op on a 32x32x16 batch: ReLU, depthwise, 1x1, BN arithmetic. */
function dilConv(x: tf.Tensor4D, dw: tf.Tensor4D, pw: tf.Tensor4D, dilation: number): tf.Tensor4D {
  const k = dw.shape[0];
  const h = tf.depthwiseConv2d(tf.relu(x), dw, 1, (dilation * (k - 1)) / 2, 'NHWC', dilation);
  const p = tf.conv2d(h, pw, 1, 'valid');
  const { mean, variance } = tf.moments(p, [0, 1, 2]);
  return tf.div(tf.sub(p, mean), tf.sqrt(tf.add(variance, 1e-5))) as tf.Tensor4D;
}
const BLOCKS: Record<string, (x: tf.Tensor4D, w: tf.Tensor4D[]) => tf.Tensor> = {
  'sep_conv_3x3 fwd+bwd 32x32x16': (x, [d1, p1, d2, p2]) => dilConv(dilConv(x, d1, p1, 1), d2, p2, 1),
  'dil_conv_5x5 fwd+bwd 32x32x16': (x, [, , , , d5, p3]) => dilConv(x, d5, p3, 2),
  'max_pool_3x3 fwd+bwd 32x32x16': (x) => tf.maxPool(x, 3, 1, 1),
};

async function timeBlock(backend: string, name: string, n: number): Promise<{ cpu: number; wall: number }> {
  await tf.setBackend(backend);
  const x = tf.variable(tf.randomNormal([N, 32, 32, 16], 0, 1, 'float32', 2)) as unknown as tf.Tensor4D;
  const shapes: Shape4[] = [
    [3, 3, 16, 1],
    [1, 1, 16, 16],
    [3, 3, 16, 1],
    [1, 1, 16, 16],
    [5, 5, 16, 1],
    [1, 1, 16, 16],
  ];
  const weights = shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 0.3, 'float32', 10 + i)));
  const block = BLOCKS[name];
  const run = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() =>
        tf.mean(tf.square(block(x, weights as unknown as tf.Tensor4D[]))),
      );
      value.dataSync();
      for (const g of Object.values(grads)) g.dataSync();
    });
  run();
  run();
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    wallMs.push(performance.now() - t0);
    const dc = process.cpuUsage(c0);
    cpuMs.push((dc.user + dc.system) / 1000);
  }
  tf.dispose([x, ...weights]);
  return { cpu: median(cpuMs), wall: median(wallMs) };
}

const info = await initBackend({ backend: 'wasm' });
interface Row {
  wasm: number;
  wasmWall: number;
  cpu?: number;
  cpuWall?: number;
  speedup?: number;
}
const results: Record<string, Row> = {};
for (const c of cases()) {
  const wasm = await time('wasm', c, reps);
  const row: Row = { wasm: +wasm.cpu.toFixed(2), wasmWall: +wasm.wall.toFixed(2) };
  if (withCpu) {
    const cpu = await time('cpu', c, cpuReps);
    row.cpu = +cpu.cpu.toFixed(2);
    row.cpuWall = +cpu.wall.toFixed(2);
    row.speedup = +(cpu.cpu / wasm.cpu).toFixed(1);
  }
  results[c.name] = row;
  process.stderr.write(`${c.name.padEnd(36)} ${JSON.stringify(row)}\n`);
}
for (const name of Object.keys(BLOCKS).filter((b) => !only || b.includes(only))) {
  const wasm = await timeBlock('wasm', name, reps);
  const row: Row = { wasm: +wasm.cpu.toFixed(2), wasmWall: +wasm.wall.toFixed(2) };
  if (withCpu) {
    const cpu = await timeBlock('cpu', name, cpuReps);
    row.cpu = +cpu.cpu.toFixed(2);
    row.cpuWall = +cpu.wall.toFixed(2);
    row.speedup = +(cpu.cpu / wasm.cpu).toFixed(1);
  }
  results[name] = row;
  process.stderr.write(`${name.padEnd(36)} ${JSON.stringify(row)}\n`);
}
console.log(
  JSON.stringify(
    {
      backend: info.reason,
      batch: N,
      unit: 'ms of process CPU time (wasm, cpu) and wall time (wasmWall, cpuWall), medians',
      reps: { wasm: reps, cpu: withCpu ? cpuReps : 0 },
      node: process.version,
      results,
    },
    null,
    2,
  ),
);
