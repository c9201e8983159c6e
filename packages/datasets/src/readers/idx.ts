import { DatasetError } from '../errors.js';
import type { ImageSet } from '../types.js';
import { readMaybeGzip } from './file.js';

/** Element types of the IDX format (the third byte of the magic number). */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const DTYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  8: { dtype: 'uint8', bytes: 1 },
  9: { dtype: 'int8', bytes: 1 },
  11: { dtype: 'int16', bytes: 2 },
  12: { dtype: 'int32', bytes: 4 },
  13: { dtype: 'float32', bytes: 4 },
  14: { dtype: 'float64', bytes: 8 },
};

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  dims: number[];
  data: IdxData;
}

/**
 * Parses an (already inflated) IDX file: 2 zero bytes, a dtype byte, a rank byte, one big-endian
 * uint32 per dimension, then the elements big-endian. `name` is used in error messages.
 */
export function parseIdx(bytes: Uint8Array, name: string): IdxArray {
  const bad = (what: string) => new DatasetError('E_FORMAT', `${name} is not a valid IDX file: ${what}.`);
  if (bytes.length < 4) throw bad(`it has ${bytes.length} bytes, fewer than the 4-byte magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw bad(`magic number starts ${hex}, expected 00 00 <dtype> <rank>`);
  }
  const type = DTYPES[bytes[2]];
  if (!type) throw bad(`unknown element type 0x${bytes[2].toString(16)} (expected 08, 09, 0b, 0c, 0d or 0e)`);
  const rank = bytes[3];
  if (rank === 0) throw bad('rank 0 (no dimensions)');
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw bad(`truncated header: ${bytes.length} bytes, need ${headerBytes}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  // Counted in a way that cannot overflow to Infinity or NaN (a zero after huge dims): the byte
  // count is checked against the file before anything the size of the data is allocated.
  const count = dims.includes(0) ? 0 : dims.reduce((a, b) => Math.min(a * b, Number.MAX_SAFE_INTEGER), 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    const how = bytes.length < expected ? 'truncated' : 'has trailing bytes';
    throw new DatasetError(
      'E_FORMAT',
      `${name} ${how}: dims [${dims.join(', ')}] of ${type.dtype} need ${expected} bytes, the file has ${bytes.length}.`,
    );
  }
  return { dtype: type.dtype, dims, data: decode(view, headerBytes, count, type.dtype) };
}

function decode(view: DataView, offset: number, n: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      // Copy so the result does not pin the (possibly much larger) file buffer.
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + n));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + n));
    case 'int16': {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file, gzipped or not (detected by its magic bytes). */
export async function readIdx(file: string): Promise<IdxArray> {
  return parseIdx(await readMaybeGzip(file), file);
}

/**
 * Reads an MNIST-style pair of IDX files: images (uint8, [n, h, w] or [n, h, w, c]) and labels
 * (uint8, [n]). Checks that the counts agree and that every label is below `nClasses` when given.
 */
export async function readIdxImageSet(
  imagesFile: string,
  labelsFile: string,
  nClasses?: number,
): Promise<ImageSet> {
  const [img, lab] = await Promise.all([readIdx(imagesFile), readIdx(labelsFile)]);
  if (img.dtype !== 'uint8' || (img.dims.length !== 3 && img.dims.length !== 4)) {
    throw new DatasetError(
      'E_FORMAT',
      `${imagesFile}: expected uint8 images of rank 3 [n, h, w] or 4 [n, h, w, c], got ${img.dtype} [${img.dims.join(', ')}].`,
    );
  }
  if (lab.dtype !== 'uint8' || lab.dims.length !== 1) {
    throw new DatasetError(
      'E_FORMAT',
      `${labelsFile}: expected uint8 labels of rank 1 [n], got ${lab.dtype} [${lab.dims.join(', ')}].`,
    );
  }
  const [count, height, width] = img.dims;
  if (lab.dims[0] !== count) {
    throw new DatasetError(
      'E_FORMAT',
      `${labelsFile} has ${lab.dims[0]} labels but ${imagesFile} has ${count} images; the files do not belong together.`,
    );
  }
  const labels = lab.data as Uint8Array;
  if (nClasses !== undefined) checkLabels(labels, nClasses, labelsFile);
  return { images: img.data as Uint8Array, labels, count, height, width, channels: img.dims[3] ?? 1 };
}

/** Throws naming `file` when a label is outside [0, nClasses). */
export function checkLabels(labels: ArrayLike<number>, nClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l < 0 || l >= nClasses) {
      throw new DatasetError('E_FORMAT', `${file}: label ${l} at index ${i} is outside [0, ${nClasses}).`);
    }
  }
}
