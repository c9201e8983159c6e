// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian data. Chosen for weights and checkpoints because
// Python (safetensors, PyTorch) reads it directly, and it can carry string metadata.
//
// Files come from disks and downloads, so the reader trusts nothing: every header field is checked
// before anything is allocated (no byte range beyond the file, tensors exactly tiling the data as
// the reference reader requires), and a sha256 written into `__metadata__` on save catches bit
// flips and truncation that still parse. Files without one (written by other tools) still load.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';

export interface NamedArray {
  shape: number[];
  data: Float32Array | Int32Array;
}

export class SafetensorsError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** The `__metadata__` key holding the sha256 of the header's content and the data (hex). */
export const SAFETENSORS_CHECKSUM_KEY = 'tsnas_sha256';

/** The reference reader refuses larger headers; so do we, before parsing one. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPE_BYTES: Record<string, number> = { F32: 4, I32: 4 };

interface TensorEntry {
  name: string;
  dtype: 'F32' | 'I32';
  shape: number[];
  begin: number;
  end: number;
}

/**
 * The sha256 of what the file means: metadata (without the checksum) and tensor table in a fixed
 * order, then the data. Whitespace and key order in the JSON header do not change it.
 */
function contentDigest(metadata: Record<string, string>, entries: TensorEntry[], data: Uint8Array): string {
  const meta = Object.keys(metadata)
    .filter((k) => k !== SAFETENSORS_CHECKSUM_KEY)
    .sort()
    .map((k) => [k, metadata[k]]);
  const table = [...entries]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((e) => [e.name, e.dtype, e.shape, e.begin, e.end]);
  return createHash('sha256')
    .update(JSON.stringify([meta, table]))
    .update(data)
    .digest('hex');
}

/** Encodes tensors (sorted by name) with `metadata` and a checksum of both. */
export function encodeSafetensors(
  tensors: Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): Buffer {
  const entries: TensorEntry[] = [];
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    entries.push({
      name,
      dtype: t.data instanceof Int32Array ? 'I32' : 'F32',
      shape: [...t.shape],
      begin: offset,
      end: offset + bytes,
    });
    offset += bytes;
  }
  const data = Buffer.alloc(offset);
  for (const [i, name] of names.entries()) {
    const t = tensors.get(name)!;
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(data, entries[i].begin);
  }
  const meta = { ...metadata };
  delete meta[SAFETENSORS_CHECKSUM_KEY];
  meta[SAFETENSORS_CHECKSUM_KEY] = contentDigest(meta, entries, data);
  const header: Record<string, unknown> = { __metadata__: meta };
  for (const e of entries)
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + data.length);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  data.copy(out, 8 + headerBytes.length);
  return out;
}

/** A flipped bit in the key must not switch verification off: a digest under a key one character off. */
function looksLikeDamagedChecksumKey(key: string, value: string): boolean {
  if (key.length !== SAFETENSORS_CHECKSUM_KEY.length || !/^[0-9a-f]{64}$/.test(value)) return false;
  let differences = 0;
  for (let i = 0; i < key.length; i++) if (key[i] !== SAFETENSORS_CHECKSUM_KEY[i]) differences++;
  return differences === 1;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function tensorEntry(name: string, raw: unknown, dataBytes: number, fail: (m: string) => never): TensorEntry {
  if (!isObject(raw))
    fail(`tensor '${name}': expected {dtype, shape, data_offsets}, got ${JSON.stringify(raw)}`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined) {
    fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)} (this reader takes F32 and I32)`);
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0] > offsets[1]) {
    fail(`tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not a [begin, end] byte range`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataBytes) {
    fail(
      `tensor '${name}' byte range [${begin}, ${end}) lies outside the file (its data section has ${dataBytes} bytes): the file is truncated or damaged`,
    );
  }
  // Multiply with an early exit, so a shape of 10^12 elements is refused without overflow.
  let count = 1;
  for (const d of shape as number[]) {
    count *= d;
    if (count * DTYPE_BYTES[dtype] > dataBytes) break;
  }
  const need = count * DTYPE_BYTES[dtype];
  if (need !== end - begin) {
    fail(
      `tensor '${name}' has ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${need > dataBytes ? `more than the ${dataBytes} in the file` : need}`,
    );
  }
  return { name, dtype: dtype as TensorEntry['dtype'], shape: shape as number[], begin, end };
}

/**
 * Decodes a safetensors file. Throws SafetensorsError naming `file` for anything that is not a
 * complete, consistent file (and, when it carries a tsnas checksum, one that does not match).
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file = '<buffer>',
): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const fail = (message: string): never => {
    throw new SafetensorsError(file, message);
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8) fail(`file is ${buf.length} bytes, too short for a header`);
  const declared = buf.readBigUInt64LE(0);
  if (declared === 0n || declared > BigInt(buf.length - 8)) {
    fail(
      `header length ${declared} does not fit in a ${buf.length}-byte file: the file is truncated or not safetensors`,
    );
  }
  const headerLen = Number(declared);
  if (headerLen > MAX_HEADER_BYTES)
    fail(`header length ${headerLen} is over the ${MAX_HEADER_BYTES}-byte limit`);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) fail(`header is not a JSON object (got ${JSON.stringify(header)?.slice(0, 40)})`);
  const dataStart = 8 + headerLen;
  const dataBytes = buf.length - dataStart;
  const rawMeta = (header as Record<string, unknown>).__metadata__ ?? {};
  if (!isObject(rawMeta) || !Object.values(rawMeta).every((v) => typeof v === 'string')) {
    fail('__metadata__ is not a map of strings');
  }
  const metadata = { ...(rawMeta as Record<string, string>) };
  const entries = Object.entries(header as Record<string, unknown>)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, raw]) => tensorEntry(name, raw, dataBytes, fail));
  // As in the reference reader: the tensors tile the data section, no gaps, no overlaps, no tail.
  const byBegin = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of byBegin) {
    if (e.begin !== covered) {
      fail(
        `tensor '${e.name}' starts at byte ${e.begin} of the data, expected ${covered}: tensors must not overlap or leave gaps`,
      );
    }
    covered = e.end;
  }
  if (covered !== dataBytes) {
    fail(`the tensors cover ${covered} bytes of data but the file has ${dataBytes}: the file is damaged`);
  }
  const data = buf.subarray(dataStart);
  const stored = metadata[SAFETENSORS_CHECKSUM_KEY];
  if (stored === undefined && Object.entries(metadata).some(([k, v]) => looksLikeDamagedChecksumKey(k, v))) {
    fail('checksum key is damaged: the file changed after it was written');
  }
  if (stored !== undefined) {
    if (contentDigest(metadata, entries, data) !== stored) {
      fail('checksum mismatch: the file changed after it was written (damaged or truncated)');
    }
    delete metadata[SAFETENSORS_CHECKSUM_KEY];
  }
  const tensors = new Map<string, NamedArray>();
  for (const e of entries) {
    // Copy so the result is aligned and independent of the file buffer.
    const copy = new Uint8Array(e.end - e.begin);
    copy.set(data.subarray(e.begin, e.end));
    const values = e.dtype === 'I32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
    tensors.set(e.name, { shape: e.shape, data: values });
  }
  return { tensors, metadata };
}

/**
 * Writes to a temporary file, then renames: a crash never leaves a half-written file, and the
 * file already at `path` stays as it was until the new one is complete.
 */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    // Leave no stray temporary file; the error that matters is the write's.
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

export async function saveSafetensors(
  path: string,
  tensors: Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

function cannotRead(path: string, e: unknown): SafetensorsError {
  const code = (e as NodeJS.ErrnoException).code;
  return new SafetensorsError(
    path,
    code === 'ENOENT' ? 'no such file' : `cannot read the file (${(e as Error).message})`,
  );
}

export async function loadSafetensors(path: string) {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw cannotRead(path, e);
  }
  return decodeSafetensors(bytes, path);
}

export function loadSafetensorsSync(path: string) {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw cannotRead(path, e);
  }
  return decodeSafetensors(bytes, path);
}
