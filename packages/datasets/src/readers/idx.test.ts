import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeIdx, tempDir } from '../__tests__/helpers.js';
import { DatasetError } from '../errors.js';
import { parseIdx, readIdx, readIdxImageSet } from './idx.js';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

const images = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);

describe('IDX reader', () => {
  it('reads a plain and a gzipped file to the same array', async () => {
    const bytes = encodeIdx([2, 3, 4], images);
    writeFileSync(join(tmp.dir, 'plain'), bytes);
    writeFileSync(join(tmp.dir, 'zipped.gz'), gzipSync(bytes));
    const plain = await readIdx(join(tmp.dir, 'plain'));
    const zipped = await readIdx(join(tmp.dir, 'zipped.gz'));
    expect(plain.dtype).toBe('uint8');
    expect(plain.dims).toEqual([2, 3, 4]);
    expect(Array.from(plain.data)).toEqual(Array.from(images));
    expect(zipped).toEqual(plain);
  });

  it('detects gzip by content, not by name', async () => {
    writeFileSync(join(tmp.dir, 'no-suffix'), gzipSync(encodeIdx([3], [1, 2, 3])));
    const a = await readIdx(join(tmp.dir, 'no-suffix'));
    expect(Array.from(a.data)).toEqual([1, 2, 3]);
  });

  it('decodes big-endian int32 elements', () => {
    const a = parseIdx(new Uint8Array(encodeIdx([3], [1, -2, 70000], 'int32')), 'x');
    expect(a.dtype).toBe('int32');
    expect(Array.from(a.data)).toEqual([1, -2, 70000]);
  });

  it('rejects a wrong magic number, naming the file', async () => {
    const file = join(tmp.dir, 'bad-magic');
    const bytes = encodeIdx([3], [1, 2, 3]);
    bytes[0] = 0x50;
    writeFileSync(file, bytes);
    const err = await readIdx(file).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/magic number starts 50 00 08 01/);
  });

  it('rejects an unknown element type', () => {
    const bytes = encodeIdx([3], [1, 2, 3]);
    bytes[2] = 0x07;
    expect(() => parseIdx(new Uint8Array(bytes), 'f.idx')).toThrow(/f\.idx .*unknown element type 0x7/);
  });

  it('rejects a truncated file (plain and gzipped), naming the file and the sizes', async () => {
    const bytes = encodeIdx([2, 3, 4], images);
    const cut = bytes.subarray(0, bytes.length - 5);
    const plain = join(tmp.dir, 'cut-idx3-ubyte');
    const zipped = join(tmp.dir, 'cut-idx3-ubyte.gz');
    writeFileSync(plain, cut);
    writeFileSync(zipped, gzipSync(cut));
    for (const file of [plain, zipped]) {
      const err = await readIdx(file).catch((e) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect(err.exitCode).toBe(2);
      expect(err.message).toBe(
        `${file} truncated: dims [2, 3, 4] of uint8 need ${bytes.length} bytes, the file has ${bytes.length - 5}.`,
      );
    }
  });

  it('rejects trailing bytes and a damaged gzip stream', async () => {
    expect(() => parseIdx(new Uint8Array([...encodeIdx([2], [1, 2]), 9]), 'long')).toThrow(
      /long has trailing bytes/,
    );
    const file = join(tmp.dir, 'damaged.gz');
    const gz = gzipSync(encodeIdx([2, 3, 4], images));
    writeFileSync(file, gz.subarray(0, gz.length - 10));
    await expect(readIdx(file)).rejects.toThrow(new RegExp(`${file} starts like gzip but does not inflate`));
  });

  it('reads an image/label pair and checks that they agree', async () => {
    const img = join(tmp.dir, 'img');
    const lab = join(tmp.dir, 'lab');
    writeFileSync(img, encodeIdx([2, 3, 4], images));
    writeFileSync(lab, encodeIdx([2], [7, 3]));
    const set = await readIdxImageSet(img, lab, 10);
    expect(set).toMatchObject({ count: 2, height: 3, width: 4, channels: 1 });
    expect(Array.from(set.labels)).toEqual([7, 3]);
    await expect(readIdxImageSet(img, lab, 5)).rejects.toThrow(
      `${lab}: label 7 at index 0 is outside [0, 5).`,
    );
    writeFileSync(lab, encodeIdx([3], [1, 2, 3]));
    await expect(readIdxImageSet(img, lab)).rejects.toThrow(`${lab} has 3 labels but ${img} has 2 images`);
    await expect(readIdxImageSet(lab, lab)).rejects.toThrow(`${lab}: expected uint8 images of rank 3`);
  });

  it('names a missing file', async () => {
    const file = join(tmp.dir, 'nope');
    const err = await readIdx(file).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`Cannot read dataset file ${file}`);
  });
});
