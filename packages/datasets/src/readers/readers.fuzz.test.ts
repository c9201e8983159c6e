// Damaged dataset files (IDX and CIFAR binary, plain or gzipped): every file reads to arrays of
// the declared size or throws DatasetError naming it; a declared size the file cannot back is
// refused before anything that size is allocated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  expectSurvived,
  FUZZ_TIMEOUT_MS,
  fuzzParams,
  FuzzTally,
  ownErrorNaming,
} from '../../../../fuzz.shared.js';
import { cifarRecord, encodeIdx, tempDir } from '../__tests__/helpers.js';
import { DatasetError } from '../errors.js';
import { CIFAR10_FORMAT, CIFAR100_FORMAT, readCifarBinary } from './cifar.js';
import { parseIdx, readIdx } from './idx.js';

const tmp = tempDir('tsnas-ds-fuzz-');
afterAll(() => tmp.cleanup());

/** Flips, truncation, splices and gzip wrapping applied to a valid file. */
function damaged(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const raw = fc.oneof(
    valid,
    fc
      .tuple(valid, fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([f, at]) => f.subarray(0, Math.floor(at * f.length))),
    fc
      .tuple(
        valid,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }),
      )
      .map(([f, flips]) => {
        const out = Uint8Array.from(f);
        for (const [pos, bit] of flips) if (out.length > 0) out[pos % out.length] ^= 1 << bit;
        return out;
      }),
    // Header bytes (magic, rank, dims) overwritten with anything, including 0xff... = 4e9 elements.
    fc
      .tuple(valid, fc.nat({ max: 15 }), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([f, at, bytes]) => {
        const out = Uint8Array.from(f);
        out.set(bytes.subarray(0, Math.max(0, out.length - at)), Math.min(at, out.length));
        return out;
      }),
    fc
      .tuple(valid, fc.uint8Array({ minLength: 1, maxLength: 16 }))
      .map(([f, extra]) => Buffer.concat([f, extra])),
    fc.uint8Array({ maxLength: 40 }),
  );
  return fc.oneof(
    { weight: 4, arbitrary: raw },
    {
      weight: 1,
      arbitrary: fc.tuple(raw, fc.double({ min: 0, max: 1, noNaN: true })).map(([f, cut]) => {
        const gz = gzipSync(f);
        return cut > 0.5 ? gz : gz.subarray(0, Math.floor(cut * 2 * gz.length));
      }),
    },
  );
}

const idxFile = fc
  .record({
    dims: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
    int32: fc.boolean(),
  })
  .map(({ dims, int32 }) => {
    const n = dims.reduce((a, b) => a * b, 1);
    return encodeIdx(
      dims,
      Array.from({ length: n }, (_, i) => (int32 ? i * 1000 - 7 : i % 256)),
      int32 ? 'int32' : 'uint8',
    );
  });

const cifarFile = fc
  .record({ labels: fc.array(fc.nat({ max: 12 }), { minLength: 1, maxLength: 3 }), hundred: fc.boolean() })
  .map(({ labels, hundred }) =>
    Buffer.concat(
      labels.map((l) => cifarRecord(hundred ? [l % 20, l * 8] : [l], (p, ch) => (p + ch * 5) % 256)),
    ),
  );

describe('dataset readers under fuzzing', () => {
  it(
    'IDX files (plain or gzipped) read to their declared size or throw DatasetError naming the file',
    async () => {
      const file = join(tmp.dir, 'fuzz-idx3-ubyte');
      const tally = new FuzzTally('idx', ownErrorNaming(DatasetError, file));
      await fc.assert(
        fc.asyncProperty(damaged(idxFile), (bytes) =>
          tally.run(bytes, async (b) => {
            writeFileSync(file, b);
            const a = await readIdx(file);
            const n = a.dims.reduce((x, y) => x * y, 1);
            if (a.data.length !== n) throw new Error(`dims [${a.dims}] but ${a.data.length} values`);
          }),
        ),
        fuzzParams(1601, 300),
      );
      expectSurvived(tally);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'CIFAR binary batches read to whole records or throw DatasetError naming the file',
    async () => {
      const file = join(tmp.dir, 'data_batch_1.bin');
      const tally = new FuzzTally('cifar', ownErrorNaming(DatasetError, file));
      await fc.assert(
        fc.asyncProperty(damaged(cifarFile), fc.boolean(), (bytes, hundred) =>
          tally.run(bytes, async (b) => {
            writeFileSync(file, b);
            const set = await readCifarBinary([file], hundred ? CIFAR100_FORMAT : CIFAR10_FORMAT);
            if (set.images.length !== set.count * 3072 || set.labels.length !== set.count) {
              throw new Error(`${set.count} records but ${set.images.length} image bytes`);
            }
          }),
        ),
        fuzzParams(1602, 200),
      );
      expectSurvived(tally);
    },
    FUZZ_TIMEOUT_MS,
  );

  it('refuses a header declaring 4 x 10^9 elements, and zero-size dims after huge ones, by their sizes', () => {
    const huge = encodeIdx([4_000_000_000], []);
    expect(() => parseIdx(huge, 'huge.idx')).toThrow(
      'huge.idx truncated: dims [4000000000] of uint8 need 4000000008 bytes, the file has 8.',
    );
    const empty = parseIdx(encodeIdx([4_000_000_000, 4_000_000_000, 4_000_000_000, 0], []), 'empty.idx');
    expect(empty.data.length).toBe(0);
  });
});
