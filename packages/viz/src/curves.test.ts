import { describe, expect, it } from 'vitest';
import { allText, findAll, hasClass, parseSvg, type SvgElement } from './__tests__/svg-tree.js';
import { type CurveSeries, renderCurvesSvg } from './curves.js';
import { VizInputError } from './errors.js';

const seriesPaths = (root: SvgElement) => findAll(root, (e) => e.tag === 'path' && hasClass(e, 'series'));
const moves = (d: string) =>
  [...d.matchAll(/([ML])([-\d.]+),([-\d.]+)/g)].map((m) => [m[1], +m[2], +m[3]] as const);

const LOSS: CurveSeries = {
  title: 'search loss',
  xLabel: 'epoch',
  yLabel: 'cross-entropy',
  lines: [
    {
      name: 'train',
      points: [
        [0, 2.3],
        [1, 1.7],
        [2, 1.2],
        [3, 0.9],
      ],
    },
    {
      name: 'val',
      points: [
        [0, 2.4],
        [1, 1.9],
        [2, 1.5],
        [3, 1.4],
      ],
    },
    { name: 'test', points: [[3, 1.45]] },
  ],
};

describe('renderCurvesSvg', () => {
  it('draws one path per line, a legend entry per line, the title and both axis labels', () => {
    const root = parseSvg(renderCurvesSvg(LOSS));
    const paths = seriesPaths(root);
    expect(paths).toHaveLength(3);
    // Every <path> is a series: axes and grid are <line>s, so a stray path would be a bug.
    expect(findAll(root, (e) => e.tag === 'path')).toHaveLength(3);
    expect(findAll(root, (e) => hasClass(e, 'line')).map((g) => g.attrs['data-name'])).toEqual([
      'train',
      'val',
      'test',
    ]);
    const legend = findAll(root, (e) => hasClass(e, 'legend'))[0];
    expect(allText(legend)).toEqual(['train', 'val', 'test']);
    expect(findAll(root, (e) => hasClass(e, 'x-label'))[0].text).toBe('epoch');
    expect(findAll(root, (e) => hasClass(e, 'y-label'))[0].text).toBe('cross-entropy');
    expect(findAll(root, (e) => hasClass(e, 'title'))[0].text).toBe('search loss');
    // Distinct colours per line.
    expect(new Set(paths.map((p) => p.attrs.stroke)).size).toBe(3);
  });

  it('maps data onto the axes: the extreme points sit on the axis ends', () => {
    const root = parseSvg(
      renderCurvesSvg({
        title: 't',
        xLabel: 'x',
        lines: [
          {
            name: 'a',
            points: [
              [0, 0],
              [5, 0.5],
              [10, 1],
            ],
          },
        ],
      }),
    );
    const [xAxis] = findAll(root, (e) => hasClass(e, 'x-axis'));
    const [yAxis] = findAll(root, (e) => hasClass(e, 'y-axis'));
    const xLine = xAxis.children.find((c) => c.tag === 'line')!.attrs;
    const yLine = yAxis.children.find((c) => c.tag === 'line')!.attrs;
    const pts = moves(seriesPaths(root)[0].attrs.d);
    expect(pts.map((p) => p[0])).toEqual(['M', 'L', 'L']);
    // (0, 0) is the bottom-left corner, (10, 1) the top-right; (5, 0.5) is the middle.
    expect(pts[0][1]).toBeCloseTo(+xLine.x1, 1);
    expect(pts[0][2]).toBeCloseTo(+yLine.y2, 1);
    expect(pts[2][1]).toBeCloseTo(+xLine.x2, 1);
    expect(pts[2][2]).toBeCloseTo(+yLine.y1, 1);
    expect(pts[1][1]).toBeCloseTo((+xLine.x1 + +xLine.x2) / 2, 1);
    expect(pts[1][2]).toBeCloseTo((+yLine.y1 + +yLine.y2) / 2, 1);
    expect(findAll(root, (e) => hasClass(e, 'y-label'))).toHaveLength(0);
  });

  it('uses whole-number ticks on an epoch axis', () => {
    const root = parseSvg(renderCurvesSvg(LOSS));
    const ticks = allText(findAll(root, (e) => hasClass(e, 'x-axis'))[0]);
    expect(ticks).toEqual(['0', '1', '2', '3']);
  });

  it('leaves a gap at a non-finite value instead of failing', () => {
    const root = parseSvg(
      renderCurvesSvg({
        title: 'diverged',
        xLabel: 'epoch',
        lines: [
          {
            name: 'train',
            points: [
              [0, 1],
              [1, Number.NaN],
              [2, 0.8],
              [3, 0.7],
            ],
          },
        ],
      }),
    );
    expect(moves(seriesPaths(root)[0].attrs.d).map((p) => p[0])).toEqual(['M', 'M', 'L']);
  });

  it('draws a single flat point with a usable axis', () => {
    const root = parseSvg(
      renderCurvesSvg({ title: 't', xLabel: 'epoch', lines: [{ name: 'a', points: [[4, 0.5]] }] }),
    );
    expect(moves(seriesPaths(root)[0].attrs.d)).toHaveLength(1);
    expect(findAll(root, (e) => e.tag === 'circle')).toHaveLength(1);
    expect(allText(findAll(root, (e) => hasClass(e, 'y-axis'))[0]).length).toBeGreaterThan(1);
  });

  it('escapes markup in titles and names', () => {
    const svg = renderCurvesSvg({
      title: 'loss <train & val>',
      xLabel: 'x',
      lines: [
        {
          name: '"a"',
          points: [
            [0, 1],
            [1, 2],
          ],
        },
      ],
    });
    const root = parseSvg(svg);
    expect(findAll(root, (e) => hasClass(e, 'title'))[0].text).toBe('loss <train & val>');
  });

  it('rejects empty and degenerate input with exit code 2', () => {
    const cases: [CurveSeries, RegExp][] = [
      [{ title: 'a', xLabel: 'x', lines: [] }, /lines is empty/],
      [
        { title: 'a', xLabel: 'x', lines: [{ name: 'val', points: [] }] },
        /lines\[0\] \('val'\) has no points/,
      ],
      [
        { title: 'a', xLabel: 'x', lines: [{ name: 'v', points: [[0, Number.NaN]] }] },
        /no line has a finite \[x, y\] point/,
      ],
      [
        {
          title: 'a',
          xLabel: 'x',
          lines: [{ name: 'v', points: [[0, 1], [2] as unknown as [number, number]] }],
        },
        /lines\[0\]\.points\[1\] \('v'\) is \[2\], expected \[x, y\] numbers/,
      ],
    ];
    for (const [series, message] of cases) {
      try {
        renderCurvesSvg(series);
        expect.unreachable(`accepted ${JSON.stringify(series)}`);
      } catch (err) {
        expect(err).toBeInstanceOf(VizInputError);
        expect((err as VizInputError).exitCode).toBe(2);
        expect((err as Error).message).toMatch(message);
      }
    }
    expect(() => renderCurvesSvg(LOSS, { width: 100 })).toThrow(/too small/);
  });
});
