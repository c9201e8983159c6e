// Damaged and hostile safetensors files: every input decodes to consistent tensors or throws
// SafetensorsError naming the file; nothing else escapes, and nothing is allocated from a size the
// file cannot back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FUZZ_TIMEOUT_MS, fuzzLoader, fuzzParams, ownErrorNaming } from '../../../fuzz.shared.js';
import {
  decodeSafetensors,
  encodeSafetensors,
  type NamedArray,
  SAFETENSORS_CHECKSUM_KEY,
  SafetensorsError,
} from './safetensors.js';

const FILE = 'fuzz.safetensors';

const tensorArb = fc
  .record({
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
    int: fc.boolean(),
  })
  .map(({ shape, int }): NamedArray => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = int
      ? Int32Array.from({ length: n }, (_, i) => i - 3)
      : Float32Array.from({ length: n }, (_, i) => i / 3);
    return { shape, data };
  });

const fileArb = fc
  .record({
    tensors: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tensorArb, { maxKeys: 4 }),
    metadata: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
  })
  .map(({ tensors, metadata }) => encodeSafetensors(new Map(Object.entries(tensors)), metadata));

/** Values that break naive readers: huge, negative, fractional, wrong types, deep nesting. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    1e12,
    2 ** 53,
    2 ** 64,
    -1,
    0.5,
    Number.MAX_SAFE_INTEGER,
    '',
    'F16',
    'BF16',
    'I64',
    null,
    true,
  ),
  fc.integer({ min: -10, max: 1 << 20 }),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 1e6 }), fc.constant(1e12), fc.string()), { maxLength: 4 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 2000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth))),
);

function split(buf: Buffer): { header: Record<string, any>; data: Buffer } {
  const len = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + len).toString('utf8')), data: buf.subarray(8 + len) };
}

function join(headerJson: string, data: Uint8Array): Buffer {
  const header = Buffer.from(headerJson, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, data]);
}

/** A structured edit of the JSON header (the length prefix stays right). */
const headerEdit = fc.record({
  field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'entry', '__metadata__', 'root', 'add'),
  pick: fc.nat(),
  value: nastyValue,
  keepChecksum: fc.boolean(),
});

const mutated: fc.Arbitrary<Uint8Array> = fc.oneof(
  fileArb,
  fc
    .tuple(fileArb, fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([f, at]) => f.subarray(0, Math.floor(at * f.length))),
  fc
    .tuple(
      fileArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([f, flips]) => {
      const out = Buffer.from(f);
      for (const [pos, bit] of flips) out[pos % out.length] ^= 1 << bit;
      return out;
    }),
  fc.tuple(fileArb, headerEdit).map(([f, edit]) => {
    const { header, data } = split(f);
    if (!edit.keepChecksum) delete header.__metadata__?.[SAFETENSORS_CHECKSUM_KEY];
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const name = names[edit.pick % Math.max(1, names.length)];
    if (edit.field === 'root') return join(JSON.stringify(edit.value) ?? 'null', data);
    if (edit.field === '__metadata__') header.__metadata__ = edit.value;
    else if (edit.field === 'add') header[`extra${edit.pick % 3}`] = edit.value;
    else if (name === undefined) header.x = edit.value;
    else if (edit.field === 'entry') header[name] = edit.value;
    else header[name][edit.field] = edit.value;
    return join(JSON.stringify(header), data);
  }),
  fc.tuple(fileArb, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([f, len]) => {
    const out = Buffer.from(f);
    out.writeBigUInt64LE(len, 0);
    return out;
  }),
  fc.uint8Array({ maxLength: 64 }),
  fc
    .tuple(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.string({ maxLength: 80 }))
    .map(([len, text]) => Buffer.concat([len, Buffer.from(text)])),
);

/** Decodes, then checks what a caller relies on: every tensor's data has exactly shape's size. */
function decodeChecked(bytes: Uint8Array): void {
  const { tensors, metadata } = decodeSafetensors(bytes, FILE);
  for (const [name, t] of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`decoded '${name}' with ${t.data.length} values for shape [${t.shape}]`);
    }
  }
  for (const v of Object.values(metadata)) if (typeof v !== 'string') throw new Error('non-string metadata');
}

describe('safetensors reader under fuzzing', () => {
  it(
    'loads or throws SafetensorsError naming the file, for truncated, flipped and edited files',
    async () => {
      await fuzzLoader(
        'safetensors',
        ownErrorNaming(SafetensorsError, FILE),
        mutated,
        decodeChecked,
        fuzzParams(1301, 400),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'rejects every single bit flip of a checksummed file',
    () => {
      fc.assert(
        fc.property(fileArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (file, pos, bit) => {
          const flipped = Buffer.from(file);
          flipped[pos % flipped.length] ^= 1 << bit;
          expect(() => decodeSafetensors(flipped, FILE)).toThrow(SafetensorsError);
        }),
        fuzzParams(1302, 300),
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it('refuses a header declaring 10^12 elements without allocating them', () => {
    const file = join(
      JSON.stringify({ w: { dtype: 'F32', shape: [1_000_000, 1_000_000], data_offsets: [0, 4e12] } }),
      new Uint8Array(16),
    );
    expect(() => decodeSafetensors(file, FILE)).toThrow(
      `${FILE}: tensor 'w' byte range [0, 4000000000000) lies outside`,
    );
    const small = join(
      JSON.stringify({ w: { dtype: 'F32', shape: [1_000_000, 1_000_000], data_offsets: [0, 16] } }),
      new Uint8Array(16),
    );
    expect(() => decodeSafetensors(small, FILE)).toThrow(
      `${FILE}: tensor 'w' has 16 bytes but shape [1000000,1000000]`,
    );
    const header = Buffer.alloc(8);
    header.writeBigUInt64LE(2n ** 63n);
    expect(() => decodeSafetensors(header, FILE)).toThrow(
      `${FILE}: header length 9223372036854775808 does not fit`,
    );
  });

  it('verifies the checksum when present; files without one (other writers) still load', () => {
    const tensors = new Map([['w', { shape: [2], data: Float32Array.from([1, 2]) }]]);
    const ours = encodeSafetensors(tensors, { epoch: '3' });
    expect(split(ours).header.__metadata__[SAFETENSORS_CHECKSUM_KEY]).toMatch(/^[0-9a-f]{64}$/);
    expect(decodeSafetensors(ours, FILE).metadata).toEqual({ epoch: '3' });
    const { header, data } = split(ours);
    delete header.__metadata__[SAFETENSORS_CHECKSUM_KEY];
    const plain = decodeSafetensors(join(JSON.stringify(header), data), FILE);
    expect(Array.from(plain.tensors.get('w')!.data)).toEqual([1, 2]);
    // Same header, other data: only the checksum tells them apart.
    const changed = Buffer.from(ours);
    changed[changed.length - 1] ^= 0x01;
    expect(() => decodeSafetensors(changed, FILE)).toThrow(`${FILE}: checksum mismatch`);
  });
});
