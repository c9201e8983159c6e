import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Encodes an IDX file (big-endian) of uint8 or int32 elements. */
export function encodeIdx(
  dims: number[],
  data: ArrayLike<number>,
  dtype: 'uint8' | 'int32' = 'uint8',
): Buffer {
  const elem = dtype === 'uint8' ? 1 : 4;
  const buf = Buffer.alloc(4 + 4 * dims.length + data.length * elem);
  buf[2] = dtype === 'uint8' ? 0x08 : 0x0c;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  const off = 4 + 4 * dims.length;
  for (let i = 0; i < data.length; i++) {
    if (dtype === 'uint8') buf[off + i] = data[i];
    else buf.writeInt32BE(data[i], off + 4 * i);
  }
  return buf;
}

export function tempDir(prefix = 'tsnas-ds-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a tiny MNIST-style dataset (n images h x w per split, label i % 10) into `dir`. */
export function writeTinyMnist(dir: string, n = 20, h = 28, w = 28, gz = true): void {
  for (const prefix of ['train', 't10k']) {
    const images = new Uint8Array(n * h * w).map((_, i) => (i * 7) % 256);
    const labels = Array.from({ length: n }, (_, i) => i % 10);
    const put = (name: string, bytes: Buffer) =>
      writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
    put(`${prefix}-images-idx3-ubyte`, encodeIdx([n, h, w], images));
    put(`${prefix}-labels-idx1-ubyte`, encodeIdx([n], labels));
  }
}

/** One CIFAR record: label byte(s) then R, G, B planes, where pixel p of channel ch = f(p, ch). */
export function cifarRecord(labels: number[], f: (p: number, ch: number) => number): Uint8Array {
  const rec = new Uint8Array(labels.length + 3072);
  rec.set(labels);
  for (let ch = 0; ch < 3; ch++) for (let p = 0; p < 1024; p++) rec[labels.length + ch * 1024 + p] = f(p, ch);
  return rec;
}
