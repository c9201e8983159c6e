import type { SeededRng } from '@tsnas/backend';

/** The shape of an NHWC batch held in a flat typed array. */
export interface BatchShape {
  n: number;
  h: number;
  w: number;
  c: number;
}

type Pixels = Uint8Array | Float32Array;

/**
 * uint8 -> float32: x / 255, then (x - mean[ch]) / std[ch] per channel (torchvision's ToTensor +
 * Normalize). `src` is NHWC with `mean.length` channels.
 */
export function normalize(src: Uint8Array, mean: number[], std: number[], out?: Float32Array): Float32Array {
  const c = mean.length;
  if (std.length !== c) throw new RangeError(`normalize: mean has ${c} channels but std has ${std.length}`);
  if (src.length % c !== 0)
    throw new RangeError(`normalize: ${src.length} values is not a multiple of ${c} channels`);
  const dst = out ?? new Float32Array(src.length);
  // Fold /255, -mean and /std into one multiply-add per element.
  const scale = std.map((s) => 1 / (255 * s));
  const shift = mean.map((m, i) => -m / std[i]);
  if (c === 1) {
    const a = scale[0];
    const b = shift[0];
    for (let i = 0; i < src.length; i++) dst[i] = src[i] * a + b;
    return dst;
  }
  for (let i = 0; i < src.length; i += c) {
    for (let ch = 0; ch < c; ch++) dst[i + ch] = src[i + ch] * scale[ch] + shift[ch];
  }
  return dst;
}

/**
 * Crops one h x w x c image out of the image padded by `pad` zeros on every side, with the crop's
 * top-left corner at (top, left) of the padded image (0 <= top, left <= 2*pad). top = left = pad
 * is the identity; top = pad + 1 moves the content up by one row.
 */
export function cropWithPadding<T extends Pixels>(
  src: T,
  h: number,
  w: number,
  c: number,
  pad: number,
  top: number,
  left: number,
  out: T,
): T {
  const dy = top - pad; // source row = dest row + dy
  const dx = left - pad;
  out.fill(0);
  const y0 = Math.max(0, -dy);
  const y1 = Math.min(h, h - dy);
  const x0 = Math.max(0, -dx);
  const x1 = Math.min(w, w - dx);
  if (x1 <= x0) return out;
  const rowLen = (x1 - x0) * c;
  for (let y = y0; y < y1; y++) {
    const s = ((y + dy) * w + (x0 + dx)) * c;
    out.set(src.subarray(s, s + rowLen), (y * w + x0) * c);
  }
  return out;
}

/** Mirrors one h x w x c image left-right, in place. */
export function flipHorizontal(img: Pixels, h: number, w: number, c: number): void {
  for (let y = 0; y < h; y++) {
    const row = y * w * c;
    for (let a = 0, b = w - 1; a < b; a++, b--) {
      for (let ch = 0; ch < c; ch++) {
        const i = row + a * c + ch;
        const j = row + b * c + ch;
        const t = img[i];
        img[i] = img[j];
        img[j] = t;
      }
    }
  }
}

/** Mirrors one h x w x c image top-bottom, in place. */
export function flipVertical(img: Pixels, h: number, w: number, c: number): void {
  const rowLen = w * c;
  const tmp = img.slice(0, rowLen);
  for (let a = 0, b = h - 1; a < b; a++, b--) {
    tmp.set(img.subarray(a * rowLen, (a + 1) * rowLen));
    img.copyWithin(a * rowLen, b * rowLen, (b + 1) * rowLen);
    img.set(tmp, b * rowLen);
  }
}

/**
 * Zeroes, on every channel, rows [clip(cy - L/2), clip(cy + L/2)) and the same columns around cx,
 * with L/2 rounded down and clip to the image: the DARTS Cutout, whose square may be partly outside.
 */
export function cutoutAt(
  img: Float32Array,
  h: number,
  w: number,
  c: number,
  length: number,
  cy: number,
  cx: number,
): void {
  const half = Math.floor(length / 2);
  const y1 = Math.min(h, Math.max(0, cy - half));
  const y2 = Math.min(h, Math.max(0, cy + half));
  const x1 = Math.min(w, Math.max(0, cx - half));
  const x2 = Math.min(w, Math.max(0, cx + half));
  if (x2 <= x1) return;
  for (let y = y1; y < y2; y++) img.fill(0, (y * w + x1) * c, (y * w + x2) * c);
}

/** Random crop with zero padding on every image of a batch (torchvision RandomCrop(size, pad)). */
export function randomCrop<T extends Pixels>(batch: T, shape: BatchShape, pad: number, rng: SeededRng): T {
  const { n, h, w, c } = shape;
  const per = h * w * c;
  const scratch = batch.slice(0, per) as T;
  for (let i = 0; i < n; i++) {
    const img = batch.subarray(i * per, (i + 1) * per) as T;
    const top = rng.int(2 * pad + 1);
    const left = rng.int(2 * pad + 1);
    scratch.set(img);
    cropWithPadding(scratch, h, w, c, pad, top, left, img);
  }
  return batch;
}

/** Flips each image of a batch left-right with probability `p`, in place. */
export function randomFlipHorizontal<T extends Pixels>(
  batch: T,
  shape: BatchShape,
  rng: SeededRng,
  p = 0.5,
): T {
  const per = shape.h * shape.w * shape.c;
  for (let i = 0; i < shape.n; i++) {
    if (rng.next() < p) flipHorizontal(batch.subarray(i * per, (i + 1) * per), shape.h, shape.w, shape.c);
  }
  return batch;
}

/** Flips each image of a batch top-bottom with probability `p`, in place. */
export function randomFlipVertical<T extends Pixels>(
  batch: T,
  shape: BatchShape,
  rng: SeededRng,
  p = 0.5,
): T {
  const per = shape.h * shape.w * shape.c;
  for (let i = 0; i < shape.n; i++) {
    if (rng.next() < p) flipVertical(batch.subarray(i * per, (i + 1) * per), shape.h, shape.w, shape.c);
  }
  return batch;
}

/** DARTS Cutout on every image of a (normalised) batch: a uniform random centre per image. */
export function randomCutout(
  batch: Float32Array,
  shape: BatchShape,
  length: number,
  rng: SeededRng,
): Float32Array {
  const { n, h, w, c } = shape;
  const per = h * w * c;
  for (let i = 0; i < n; i++) {
    const cy = rng.int(h);
    const cx = rng.int(w);
    cutoutAt(batch.subarray(i * per, (i + 1) * per), h, w, c, length, cy, cx);
  }
  return batch;
}

/** Augmentations applied to uint8 images before normalisation. */
export interface AugSpec {
  /** Zero padding of the random crop; 0 = no crop. */
  crop: number;
  hflip: boolean;
  vflip: boolean;
}

export const NO_AUG: AugSpec = Object.freeze({ crop: 0, hflip: false, vflip: false });

/** Everything done to a batch between the raw bytes and the model. */
export interface TransformSpec {
  mean: number[];
  std: number[];
  aug: AugSpec;
  /** Cutout square side; 0 = none. Applied after normalisation, as in DARTS. */
  cutout: number;
}

/**
 * The whole pipeline on one uint8 NHWC batch, in Archai's order: random crop, horizontal flip,
 * vertical flip (on the raw bytes, so padding is black as with PIL), then normalise, then cutout.
 * `src` is modified when an augmentation is on. `rng` is needed only when something is random.
 */
export function transformBatch(
  src: Uint8Array,
  shape: BatchShape,
  spec: TransformSpec,
  rng?: SeededRng,
): Float32Array {
  const random = spec.aug.crop > 0 || spec.aug.hflip || spec.aug.vflip || spec.cutout > 0;
  if (random && !rng) throw new Error('transformBatch: random transforms need a SeededRng');
  if (spec.aug.crop > 0) randomCrop(src, shape, spec.aug.crop, rng!);
  if (spec.aug.hflip) randomFlipHorizontal(src, shape, rng!);
  if (spec.aug.vflip) randomFlipVertical(src, shape, rng!);
  const out = normalize(src, spec.mean, spec.std);
  if (spec.cutout > 0) randomCutout(out, shape, spec.cutout, rng!);
  return out;
}
