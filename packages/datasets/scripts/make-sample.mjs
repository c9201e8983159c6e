#!/usr/bin/env node
// Makes the class-balanced Fashion-MNIST sample shipped in data/fashion-mnist-sample/: the first
// 1,000 training images of each class (10,000) and the first 200 test images of each class
// (2,000), in their original file order, written as gzipped IDX files with the standard names.
//
//   node scripts/make-sample.mjs [--src DIR] [--out DIR] [--train-per-class N] [--test-per-class N] [--level 0-9]
//
// --src defaults to Debian's dataset-fashion-mnist folder, /usr/share/datasets/fashion-mnist.
// Plain Node (no build step) so it runs on a fresh checkout.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';

const here = fileURLToPath(new URL('.', import.meta.url));
const { values: args } = parseArgs({
  options: {
    src: { type: 'string', default: '/usr/share/datasets/fashion-mnist' },
    out: { type: 'string', default: join(here, '..', 'data', 'fashion-mnist-sample') },
    'train-per-class': { type: 'string', default: '1000' },
    'test-per-class': { type: 'string', default: '200' },
    // gzip level; 9 for the shipped files, lower for quick checks.
    level: { type: 'string', default: '9' },
  },
});

function readMaybeGzip(file) {
  const raw = readFileSync(file);
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}

function findFile(dir, name) {
  for (const f of [join(dir, name), join(dir, `${name}.gz`)]) {
    try {
      return readMaybeGzip(f);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  throw new Error(`${join(dir, name)}(.gz) not found; install dataset-fashion-mnist or pass --src DIR`);
}

function parseUbyteIdx(bytes, name) {
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) throw new Error(`${name}: not a uint8 IDX file`);
  const rank = bytes[3];
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(bytes.readUInt32BE(4 + 4 * i));
  const header = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== header + size) throw new Error(`${name}: size ${bytes.length} != ${header + size}`);
  return { dims, data: bytes.subarray(header) };
}

function encodeIdx(dims, data) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

function sample(prefix, perClass) {
  const imgName = `${prefix}-images-idx3-ubyte`;
  const labName = `${prefix}-labels-idx1-ubyte`;
  const images = parseUbyteIdx(findFile(args.src, imgName), imgName);
  const labels = parseUbyteIdx(findFile(args.src, labName), labName);
  const [n, h, w] = images.dims;
  const per = h * w;
  const taken = new Map();
  const keep = [];
  for (let i = 0; i < n; i++) {
    const l = labels.data[i];
    const t = taken.get(l) ?? 0;
    if (t < perClass) {
      taken.set(l, t + 1);
      keep.push(i);
    }
  }
  const short = [...Array(10).keys()].filter((k) => (taken.get(k) ?? 0) < perClass);
  if (short.length)
    throw new Error(`${prefix}: classes ${short.join(',')} have fewer than ${perClass} images`);
  const outImages = new Uint8Array(keep.length * per);
  const outLabels = new Uint8Array(keep.length);
  keep.forEach((src, dst) => {
    outImages.set(images.data.subarray(src * per, (src + 1) * per), dst * per);
    outLabels[dst] = labels.data[src];
  });
  mkdirSync(args.out, { recursive: true });
  writeFileSync(
    join(args.out, `${imgName}.gz`),
    gzipSync(encodeIdx([keep.length, h, w], outImages), { level: Number(args.level) }),
  );
  writeFileSync(
    join(args.out, `${labName}.gz`),
    gzipSync(encodeIdx([keep.length], outLabels), { level: Number(args.level) }),
  );
  console.log(`${prefix}: kept ${keep.length} of ${n} (${perClass} per class) -> ${resolve(args.out)}`);
}

sample('train', Number(args['train-per-class']));
sample('t10k', Number(args['test-per-class']));
