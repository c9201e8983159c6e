import { describe, expect, it } from 'vitest';
import { renderCurvesSvg } from './curves.js';
import { VizInputError } from './errors.js';
import { svgToPng } from './png.js';

// PNG layout: 8-byte signature, then the IHDR chunk whose data starts with big-endian width, height.
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const pngSize = (png: Uint8Array) => {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
};

describe('svgToPng', () => {
  const svg = renderCurvesSvg({
    title: 't',
    xLabel: 'epoch',
    lines: [
      {
        name: 'a',
        points: [
          [0, 1],
          [1, 0],
        ],
      },
    ],
  });

  it('rasterises at the SVG size times the scale', async () => {
    const png = await svgToPng(svg, { scale: 1 });
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(pngSize(png)).toEqual([720, 420]);
    expect(pngSize(await svgToPng(svg))).toEqual([1440, 840]);
  });

  it('rejects malformed SVG and a bad scale', async () => {
    await expect(svgToPng('<svg')).rejects.toBeInstanceOf(VizInputError);
    await expect(svgToPng(svg, { scale: 0 })).rejects.toThrow(/scale is 0/);
  });
});
