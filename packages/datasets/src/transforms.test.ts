import { SeededRng } from '@tsnas/backend';
import { describe, expect, it } from 'vitest';
import {
  cropWithPadding,
  cutoutAt,
  flipHorizontal,
  flipVertical,
  normalize,
  randomCrop,
  randomCutout,
  transformBatch,
} from './transforms.js';

// A 3x4 single-channel image with distinct values 1..12, row-major.
const img34 = () => Uint8Array.from({ length: 12 }, (_, i) => i + 1);
const rows = (a: ArrayLike<number>, w: number) =>
  Array.from({ length: a.length / w }, (_, r) => Array.from(a).slice(r * w, (r + 1) * w));

describe('normalize', () => {
  it('maps v to (v/255 - mean)/std per channel', () => {
    const src = Uint8Array.from([0, 255, 51, 102, 204, 153]); // 3 pixels x 2 channels
    const out = normalize(src, [0.5, 0.2], [0.25, 0.4]);
    const expected = [
      (0 - 0.5) / 0.25,
      (1 - 0.2) / 0.4,
      (0.2 - 0.5) / 0.25,
      (0.4 - 0.2) / 0.4,
      (0.8 - 0.5) / 0.25,
      (0.6 - 0.2) / 0.4,
    ];
    expect(out).toBeInstanceOf(Float32Array);
    out.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });

  it('uses the Fashion-MNIST constants of the reference', () => {
    const out = normalize(Uint8Array.from([0, 255]), [0.28604], [0.35302]);
    expect(out[0]).toBeCloseTo(-0.810265, 5);
    expect(out[1]).toBeCloseTo(2.022435, 5);
  });
});

describe('flips', () => {
  it('horizontal flip is an exact mirror and its own inverse (multi-channel)', () => {
    const img = Uint8Array.from({ length: 2 * 3 * 2 }, (_, i) => i); // h2 w3 c2
    const f = img.slice();
    flipHorizontal(f, 2, 3, 2);
    // pixel (y, x) channel ch of the flip = pixel (y, 2 - x) channel ch of the original
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 3; x++)
        for (let ch = 0; ch < 2; ch++) expect(f[(y * 3 + x) * 2 + ch]).toBe(img[(y * 3 + (2 - x)) * 2 + ch]);
    flipHorizontal(f, 2, 3, 2);
    expect(f).toEqual(img);
  });

  it('vertical flip reverses the rows', () => {
    const f = img34();
    flipVertical(f, 3, 4, 1);
    expect(rows(f, 4)).toEqual([
      [9, 10, 11, 12],
      [5, 6, 7, 8],
      [1, 2, 3, 4],
    ]);
  });
});

describe('crop with zero padding', () => {
  it('is the identity at (pad, pad)', () => {
    const out = cropWithPadding(img34(), 3, 4, 1, 2, 2, 2, new Uint8Array(12));
    expect(out).toEqual(img34());
  });

  it('shifts content: window at (pad+1, pad-2) moves it up 1 and right 2, filling with zeros', () => {
    const out = cropWithPadding(img34(), 3, 4, 1, 2, 3, 0, new Uint8Array(12));
    expect(rows(out, 4)).toEqual([
      [0, 0, 5, 6],
      [0, 0, 9, 10],
      [0, 0, 0, 0],
    ]);
  });

  it('keeps channels together', () => {
    const img = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // h1 w4 c2
    const out = cropWithPadding(img, 1, 4, 2, 1, 1, 2, new Uint8Array(8));
    expect(Array.from(out)).toEqual([3, 4, 5, 6, 7, 8, 0, 0]);
  });

  it('random crop of a batch picks one of the (2p+1)^2 shifts per image, reproducibly', () => {
    const pad = 1;
    const batch = new Uint8Array(24);
    batch.set(img34(), 0);
    batch.set(img34(), 12);
    const a = randomCrop(batch.slice(), { n: 2, h: 3, w: 4, c: 1 }, pad, new SeededRng(5));
    const b = randomCrop(batch.slice(), { n: 2, h: 3, w: 4, c: 1 }, pad, new SeededRng(5));
    expect(a).toEqual(b);
    for (let i = 0; i < 2; i++) {
      const got = Array.from(a.subarray(i * 12, (i + 1) * 12));
      const shifts = [];
      for (let t = 0; t <= 2 * pad; t++)
        for (let l = 0; l <= 2 * pad; l++)
          shifts.push(Array.from(cropWithPadding(img34(), 3, 4, 1, pad, t, l, new Uint8Array(12))));
      expect(shifts).toContainEqual(got);
    }
  });
});

describe('cutout (DARTS)', () => {
  it('zeroes exactly the square [cy-L/2, cy+L/2) x [cx-L/2, cx+L/2) on all channels', () => {
    const h = 6;
    const w = 5;
    const c = 2;
    const img = new Float32Array(h * w * c).fill(1);
    cutoutAt(img, h, w, c, 2, 3, 2); // rows 2..3, cols 1..2
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++) {
          const inside = y >= 2 && y < 4 && x >= 1 && x < 3;
          expect(img[(y * w + x) * c + ch]).toBe(inside ? 0 : 1);
        }
  });

  it('clips the square at the border', () => {
    const img = new Float32Array(16).fill(-0.5); // 4x4x1
    cutoutAt(img, 4, 4, 1, 4, 0, 3); // rows [max(0,-2), 2), cols [1, min(4, 5))
    expect(rows(img, 4)).toEqual([
      [-0.5, 0, 0, 0],
      [-0.5, 0, 0, 0],
      [-0.5, -0.5, -0.5, -0.5],
      [-0.5, -0.5, -0.5, -0.5],
    ]);
  });

  it('an odd length zeroes 2*floor(L/2) rows, as the DARTS code does', () => {
    const img = new Float32Array(49).fill(1);
    cutoutAt(img, 7, 7, 1, 3, 3, 3);
    expect(img.filter((v) => v === 0).length).toBe(4);
  });

  it('random cutout zeroes at most L*L pixels per image and only there', () => {
    const img = new Float32Array(2 * 8 * 8).fill(1);
    randomCutout(img, { n: 2, h: 8, w: 8, c: 1 }, 4, new SeededRng(1));
    for (let i = 0; i < 2; i++) {
      const zeros = img.subarray(i * 64, (i + 1) * 64).filter((v) => v === 0).length;
      expect(zeros).toBeGreaterThan(0);
      expect(zeros).toBeLessThanOrEqual(16);
    }
  });
});

describe('transformBatch', () => {
  it('without augmentation equals normalize', () => {
    const src = img34();
    const spec = { mean: [0.5], std: [0.5], aug: { crop: 0, hflip: false, vflip: false }, cutout: 0 };
    expect(transformBatch(src.slice(), { n: 1, h: 3, w: 4, c: 1 }, spec)).toEqual(
      normalize(src, [0.5], [0.5]),
    );
  });

  it('pads crops with black (0 before normalisation), then cutout writes 0 after it', () => {
    const src = new Uint8Array(16).fill(255);
    const spec = { mean: [0.5], std: [0.5], aug: { crop: 4, hflip: false, vflip: false }, cutout: 0 };
    const out = transformBatch(src, { n: 1, h: 4, w: 4, c: 1 }, spec, new SeededRng(3));
    // every value is a normalised 255 (1) or a normalised 0 (-1)
    for (const v of out) expect([1, -1]).toContain(Math.round(v * 1e5) / 1e5);
    const withCut = transformBatch(
      new Uint8Array(16).fill(255),
      { n: 1, h: 4, w: 4, c: 1 },
      { ...spec, aug: { crop: 0, hflip: false, vflip: false }, cutout: 2 },
      new SeededRng(3),
    );
    expect(withCut.filter((v) => v === 0).length).toBeGreaterThan(0);
  });

  it('refuses random transforms without an rng', () => {
    const spec = { mean: [0], std: [1], aug: { crop: 0, hflip: true, vflip: false }, cutout: 0 };
    expect(() => transformBatch(new Uint8Array(4), { n: 1, h: 2, w: 2, c: 1 }, spec)).toThrow(/SeededRng/);
  });
});
