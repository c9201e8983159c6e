// safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the raw little-endian data. Chosen for weights and checkpoints because
// Python (safetensors, PyTorch) reads it directly, and it can carry string metadata.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

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

export function encodeSafetensors(
  tensors: Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    header[name] = {
      dtype: t.data instanceof Int32Array ? 'I32' : 'F32',
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(
  buf: Buffer,
  file = '<buffer>',
): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new SafetensorsError(file, `file is ${buf.length} bytes, too short for a header`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen <= 0 || 8 + headerLen > buf.length) {
    throw new SafetensorsError(file, `header length ${headerLen} does not fit in a ${buf.length}-byte file`);
  }
  let header: Record<string, any>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const [begin, end] = entry.data_offsets as [number, number];
    if (!(begin >= 0 && end >= begin && dataStart + end <= buf.length)) {
      throw new SafetensorsError(
        file,
        `tensor '${name}' byte range [${begin}, ${end}) lies outside the file`,
      );
    }
    const count = (end - begin) / 4;
    const expected = (entry.shape as number[]).reduce((a: number, b: number) => a * b, 1);
    if (count !== expected) {
      throw new SafetensorsError(file, `tensor '${name}' has ${count} values but shape [${entry.shape}]`);
    }
    // Copy so the result is aligned and independent of the file buffer.
    const bytes = new Uint8Array(end - begin);
    bytes.set(buf.subarray(dataStart + begin, dataStart + end));
    let data: Float32Array | Int32Array;
    if (entry.dtype === 'F32') data = new Float32Array(bytes.buffer);
    else if (entry.dtype === 'I32') data = new Int32Array(bytes.buffer);
    else throw new SafetensorsError(file, `tensor '${name}' has unsupported dtype ${entry.dtype}`);
    tensors.set(name, { shape: entry.shape, data });
  }
  return { tensors, metadata };
}

/** Writes to a temporary file, then renames: a crash never leaves a half-written file. */
export async function writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function saveSafetensors(
  path: string,
  tensors: Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export async function loadSafetensors(path: string) {
  return decodeSafetensors(await readFile(path), path);
}

export function loadSafetensorsSync(path: string) {
  return decodeSafetensors(readFileSync(path), path);
}
