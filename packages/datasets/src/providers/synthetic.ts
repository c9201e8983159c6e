import { SeededRng } from '@tsnas/backend';
import { confInt, confNumber, confSize } from '../conf.js';
import type { DatasetMeta, DatasetProvider, LoadOptions } from '../provider.js';
import { NO_AUG } from '../transforms.js';
import type { LoadedSplit } from '../types.js';

export interface SyntheticOptions {
  nClasses: number;
  channels: number;
  imageSize: [number, number];
  trainSize: number;
  testSize: number;
  seed: number;
  /** Standard deviation of the per-pixel Gaussian noise, as a fraction of 255. */
  noise: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticOptions = {
  nClasses: 10,
  channels: 1,
  imageSize: [28, 28],
  trainSize: 1000,
  testSize: 200,
  seed: 0,
  noise: 0.15,
};

const AMPLITUDE = 80;

/**
 * A learnable image set generated from a seed: class k is a sinusoidal grating with its own
 * orientation, frequency and per-channel phase (so convolutions can tell the classes apart) plus
 * Gaussian pixel noise. Classes are balanced (sample i has class i mod K, then shuffled). The
 * dataset keys `n_classes, channels, img_size, train_size, test_size, seed, noise` override the
 * constructor's defaults. Train and test come from separate streams of one seed and share the
 * class patterns.
 */
export class SyntheticProvider implements DatasetProvider {
  readonly meta: DatasetMeta;

  constructor(readonly defaults: SyntheticOptions = SYNTHETIC_DEFAULTS) {
    this.meta = {
      name: 'synthetic',
      channels: defaults.channels,
      nClasses: defaults.nClasses,
      imageSize: defaults.imageSize,
      ...syntheticStats(defaults),
      trainAug: NO_AUG,
    };
  }

  /** The options a load will use: the defaults overridden by the config's dataset keys. */
  options(conf: Record<string, unknown> = {}, path = 'dataset'): SyntheticOptions {
    const d = this.defaults;
    return {
      nClasses: confInt(conf, 'n_classes', path, d.nClasses, 1),
      channels: confInt(conf, 'channels', path, d.channels, 1),
      imageSize: confSize(conf, 'img_size', path, d.imageSize),
      trainSize: confInt(conf, 'train_size', path, d.trainSize, 1),
      testSize: confInt(conf, 'test_size', path, d.testSize, 1),
      seed: confInt(conf, 'seed', path, d.seed),
      noise: confNumber(conf, 'noise', path, d.noise, 0, 10),
    };
  }

  async load(opts: LoadOptions): Promise<LoadedSplit> {
    const o = this.options(opts.options, opts.optionsPath ?? 'dataset');
    const set = generateSynthetic(o, opts.split);
    return {
      ...set,
      name: 'synthetic',
      split: opts.split,
      ...syntheticStats(o),
      origin: 'generated',
      dir: '',
    };
  }
}

/** Mean and std of the generated pixels (a grating of amplitude 80 around 128, plus noise), in [0,1] units. */
function syntheticStats(o: SyntheticOptions): { mean: number[]; std: number[] } {
  const sd = Math.sqrt((AMPLITUDE * AMPLITUDE) / 2 + (o.noise * 255) ** 2) / 255;
  return { mean: new Array(o.channels).fill(128 / 255), std: new Array(o.channels).fill(sd) };
}

/** Generates one split of the synthetic set. */
export function generateSynthetic(
  o: SyntheticOptions,
  split: 'train' | 'test',
): {
  images: Uint8Array;
  labels: Uint8Array | Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  nClasses: number;
} {
  const [h, w] = o.imageSize;
  const c = o.channels;
  const root = new SeededRng(o.seed);
  const patternRng = root.fork('synthetic:patterns');
  const patterns = Array.from({ length: o.nClasses }, (_, k) => ({
    // Spread orientations evenly, then jitter, so even many classes stay apart.
    theta: ((k + 0.5 * patternRng.next()) * Math.PI) / o.nClasses,
    freq: 1 + 3 * patternRng.next(), // cycles per image side
    phase: Array.from({ length: c }, () => 2 * Math.PI * patternRng.next()),
  }));
  const count = split === 'train' ? o.trainSize : o.testSize;
  const rng = root.fork(`synthetic:${split}`);
  const labels = o.nClasses <= 256 ? new Uint8Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = i % o.nClasses;
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = labels[i];
    labels[i] = labels[j];
    labels[j] = t;
  }
  const per = h * w * c;
  const images = new Uint8Array(count * per);
  const noiseSd = o.noise * 255;
  // Each class's clean image is computed once.
  const clean = patterns.map((p) => {
    const img = new Float32Array(per);
    const kx = (2 * Math.PI * p.freq * Math.cos(p.theta)) / w;
    const ky = (2 * Math.PI * p.freq * Math.sin(p.theta)) / h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++)
          img[(y * w + x) * c + ch] = 128 + AMPLITUDE * Math.sin(kx * x + ky * y + p.phase[ch]);
      }
    }
    return img;
  });
  for (let i = 0; i < count; i++) {
    const base = clean[labels[i]];
    const off = i * per;
    for (let j = 0; j < per; j++) {
      const v = base[j] + noiseSd * rng.normal();
      images[off + j] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { images, labels, count, height: h, width: w, channels: c, nClasses: o.nClasses };
}
