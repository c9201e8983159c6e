import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cifarRecord, tempDir } from '../__tests__/helpers.js';
import { DatasetError } from '../errors.js';
import { CIFAR10_FORMAT, CIFAR100_FORMAT, readCifarBinary } from './cifar.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

// Pixel value encodes (image, position, channel) so the CHW -> HWC move can be checked exactly.
const px = (img: number) => (p: number, ch: number) => (img * 50 + ch * 7 + p) % 256;

describe('CIFAR binary reader', () => {
  it('reads CIFAR-10 batches into NHWC with their labels, in file order', async () => {
    const a = join(tmp.dir, 'data_batch_1.bin');
    const b = join(tmp.dir, 'data_batch_2.bin');
    writeFileSync(a, Buffer.concat([cifarRecord([3], px(0)), cifarRecord([9], px(1))]));
    writeFileSync(b, gzipSync(cifarRecord([0], px(2))));
    const set = await readCifarBinary([a, b], CIFAR10_FORMAT);
    expect(set).toMatchObject({ count: 3, height: 32, width: 32, channels: 3 });
    expect(Array.from(set.labels)).toEqual([3, 9, 0]);
    for (let img = 0; img < 3; img++) {
      for (const [y, x] of [
        [0, 0],
        [5, 17],
        [31, 31],
      ]) {
        for (let ch = 0; ch < 3; ch++) {
          expect(set.images[img * 3072 + (y * 32 + x) * 3 + ch]).toBe(px(img)(y * 32 + x, ch));
        }
      }
    }
  });

  it('keeps the fine label of CIFAR-100 records', async () => {
    const f = join(tmp.dir, 'train.bin');
    writeFileSync(f, Buffer.concat([cifarRecord([4, 72], px(0)), cifarRecord([19, 5], px(1))]));
    const set = await readCifarBinary([f], CIFAR100_FORMAT);
    expect(Array.from(set.labels)).toEqual([72, 5]);
    expect(set.images[3 * 40 + 2]).toBe(px(0)(40, 2));
  });

  it('rejects a file that is not whole records, naming it', async () => {
    const f = join(tmp.dir, 'test_batch.bin');
    writeFileSync(f, cifarRecord([1], px(0)).subarray(0, 3000));
    const err = await readCifarBinary([f], CIFAR10_FORMAT).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`${f} is not a CIFAR binary batch: its 3000 bytes`);
    expect(err.message).toContain('3073-byte record');
  });

  it('rejects out-of-range labels (CIFAR-100 file read as CIFAR-10)', async () => {
    const f = join(tmp.dir, 'x.bin');
    writeFileSync(f, cifarRecord([12], px(0)));
    await expect(readCifarBinary([f], CIFAR10_FORMAT)).rejects.toThrow(
      `${f}: record 0 has label 12, outside [0, 10)`,
    );
  });
});
