import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DatasetError } from '../errors.js';

const gunzipAsync = promisify(gunzip);

/**
 * The most a dataset file may inflate to (2 GiB, above any IDX or CIFAR file in use): a damaged or
 * hostile gzip stream is refused before it fills memory.
 */
export const MAX_INFLATED_BYTES = 2 ** 31 - 1;

/** True when the bytes start with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads a file and, when its first bytes are the gzip magic, inflates it, so callers need not care
 * whether a dataset was stored compressed (the name alone is not trusted: torchvision keeps both).
 */
export async function readMaybeGzip(file: string): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw new DatasetError('E_IO', `Cannot read dataset file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!isGzip(raw)) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  try {
    const out = await gunzipAsync(raw, { maxOutputLength: MAX_INFLATED_BYTES });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    throw new DatasetError(
      'E_FORMAT',
      `Dataset file ${file} starts like gzip but does not inflate (${(err as Error).message}); ` +
        'the file is damaged or truncated: download it again.',
      { cause: err },
    );
  }
}
