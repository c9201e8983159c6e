// Generates vendor/tfjs-gradients.gen.js before the tests, as `build` does.
import { bundleGradients } from '../scripts/bundle-gradients.mjs';

export default async function setup(): Promise<void> {
  await bundleGradients();
}
