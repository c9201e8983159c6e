import { DatasetError } from '../errors.js';
import type { ImageSet } from '../types.js';
import { readMaybeGzip } from './file.js';

const SIDE = 32;
const PIXELS = SIDE * SIDE;
const IMAGE_BYTES = 3 * PIXELS;

export interface CifarFormat {
  /** Label bytes before each image: 1 for CIFAR-10, 2 (coarse, fine) for CIFAR-100. */
  labelBytes: 1 | 2;
  /** Which of the label bytes is the label to keep (CIFAR-100: 1 = fine). */
  labelIndex: number;
  /** Labels must be below this. */
  nClasses: number;
}

export const CIFAR10_FORMAT: CifarFormat = { labelBytes: 1, labelIndex: 0, nClasses: 10 };
export const CIFAR100_FORMAT: CifarFormat = { labelBytes: 2, labelIndex: 1, nClasses: 100 };

/**
 * Decodes CIFAR binary records (label byte(s), then 3072 bytes: the red, green and blue 32x32
 * planes) into NHWC images. `name` is used in error messages.
 */
export function parseCifarBinary(bytes: Uint8Array, format: CifarFormat, name: string): ImageSet {
  const record = format.labelBytes + IMAGE_BYTES;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new DatasetError(
      'E_FORMAT',
      `${name} is not a CIFAR binary batch: its ${bytes.length} bytes are not a positive multiple of the ` +
        `${record}-byte record (${format.labelBytes} label byte(s) + 3072 image bytes); the file is truncated or of another kind.`,
    );
  }
  const count = bytes.length / record;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const src = n * record;
    const label = bytes[src + format.labelIndex];
    if (label >= format.nClasses) {
      throw new DatasetError(
        'E_FORMAT',
        `${name}: record ${n} has label ${label}, outside [0, ${format.nClasses}); is this the right CIFAR variant?`,
      );
    }
    labels[n] = label;
    const planes = src + format.labelBytes;
    const dst = n * IMAGE_BYTES;
    // CHW planes -> interleaved HWC.
    for (let p = 0; p < PIXELS; p++) {
      const o = dst + 3 * p;
      images[o] = bytes[planes + p];
      images[o + 1] = bytes[planes + PIXELS + p];
      images[o + 2] = bytes[planes + 2 * PIXELS + p];
    }
  }
  return { images, labels, count, height: SIDE, width: SIDE, channels: 3 };
}

/** Reads and concatenates CIFAR binary batch files (gzipped or not) in the order given. */
export async function readCifarBinary(files: string[], format: CifarFormat): Promise<ImageSet> {
  const parts = await Promise.all(
    files.map(async (f) => parseCifarBinary(await readMaybeGzip(f), format, f)),
  );
  return concatImageSets(parts);
}

/** Concatenates image sets of the same image shape. */
export function concatImageSets(parts: ImageSet[]): ImageSet {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const count = parts.reduce((a, p) => a + p.count, 0);
  const per = first.height * first.width * first.channels;
  const images = new Uint8Array(count * per);
  // Keep wide labels wide (synthetic sets may have more than 256 classes).
  const labels = parts.some((p) => p.labels instanceof Int32Array)
    ? new Int32Array(count)
    : new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * per);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count, height: first.height, width: first.width, channels: first.channels };
}
