// Run as its own process by the tests: computes with a DataParallelEngine (two worker threads) and
// then simply ends without disposing it. The process must still exit.
import '@tensorflow/tfjs-backend-cpu';
import { registerAllGradients } from '@tsnas/backend';
import * as tf from '@tensorflow/tfjs-core';
import { modelLoss } from '../../gradients.js';
import { DataParallelEngine } from '../data-parallel.js';
import { batchOf, ConvNet } from './fixtures.js';

await registerAllGradients();
await tf.setBackend('cpu');
const model = new ConvNet(1);
const engine = new DataParallelEngine({
  workers: 3,
  recipe: {
    module: new URL('./fixtures.ts', import.meta.url).href,
    args: { seed: 2 },
    loss: {},
    backend: 'cpu',
  },
});
const b = batchOf(6);
const r = engine.compute(model, {
  x: b.x,
  y: b.y,
  vars: model.weights(),
  chunks: 3,
  loss: (x, y) => modelLoss(model, x, y, true, {}),
});
console.log(JSON.stringify({ loss: r.loss, grads: r.grads.size }));
