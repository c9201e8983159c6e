import { describe, expect, it } from 'vitest';
import { allText, findAll, hasClass, parseSvg } from './__tests__/svg-tree.js';
import { VizInputError } from './errors.js';
import { renderHeatmapSvg } from './heatmap.js';

// Viridis end points (matplotlib's table, also d3's): the lowest value is dark purple, the highest yellow.
const VIRIDIS_LOW = '#440154';
const VIRIDIS_HIGH = '#fde725';

describe('renderHeatmapSvg', () => {
  const matrix = [
    [0.1, 0.7, 0.2],
    [0.5, 0.25, 0.25],
  ];
  const rows = ['edge 0', 'edge 1'];
  const cols = ['max_pool_3x3', 'sep_conv_3x3', 'none'];

  it('draws rows x cols cells with labels, values and tooltips', () => {
    const root = parseSvg(renderHeatmapSvg(matrix, rows, cols, 'alphas'));
    const cells = findAll(root, (e) => e.tag === 'rect');
    expect(cells).toHaveLength(6);
    expect(cells.every((c) => hasClass(c, 'cell'))).toBe(true);
    expect(cells.map((c) => c.children[0].text)).toEqual([
      'edge 0 / max_pool_3x3: 0.1',
      'edge 0 / sep_conv_3x3: 0.7',
      'edge 0 / none: 0.2',
      'edge 1 / max_pool_3x3: 0.5',
      'edge 1 / sep_conv_3x3: 0.25',
      'edge 1 / none: 0.25',
    ]);
    expect(cells[0].attrs.fill).toBe(VIRIDIS_LOW);
    expect(cells[1].attrs.fill).toBe(VIRIDIS_HIGH);
    expect(allText(findAll(root, (e) => hasClass(e, 'row-labels'))[0])).toEqual(rows);
    expect(allText(findAll(root, (e) => hasClass(e, 'col-labels'))[0])).toEqual(cols);
    expect(allText(findAll(root, (e) => hasClass(e, 'cells'))[0])).toEqual([
      '0.10',
      '0.70',
      '0.20',
      '0.50',
      '0.25',
      '0.25',
    ]);
    expect(findAll(root, (e) => hasClass(e, 'title'))[0].text).toBe('alphas');
  });

  it('lays cells out row by row on a regular grid', () => {
    const cells = findAll(parseSvg(renderHeatmapSvg(matrix, rows, cols, 'grid')), (e) => e.tag === 'rect');
    const xs = [...new Set(cells.map((c) => +c.attrs.x))];
    const ys = [...new Set(cells.map((c) => +c.attrs.y))];
    expect(xs).toHaveLength(3);
    expect(ys).toHaveLength(2);
    expect(xs[1] - xs[0]).toBeCloseTo(+cells[0].attrs.width, 5);
    expect(ys[1] - ys[0]).toBeCloseTo(+cells[0].attrs.height, 5);
  });

  it('honours a fixed colour domain and can hide the values', () => {
    const root = parseSvg(
      renderHeatmapSvg([[0, 1]], ['r'], ['a', 'b'], 'k', { domain: [-1, 1], showValues: false }),
    );
    const cells = findAll(root, (e) => e.tag === 'rect');
    expect(cells[0].attrs.fill).not.toBe(VIRIDIS_LOW); // 0 is mid-scale on [-1, 1]
    expect(cells[1].attrs.fill).toBe(VIRIDIS_HIGH);
    expect(allText(findAll(root, (e) => hasClass(e, 'cells'))[0])).toEqual([]);
  });

  it('draws a constant matrix', () => {
    const root = parseSvg(
      renderHeatmapSvg(
        [
          [3, 3],
          [3, 3],
        ],
        ['a', 'b'],
        ['c', 'd'],
        'flat',
      ),
    );
    expect(new Set(findAll(root, (e) => e.tag === 'rect').map((c) => c.attrs.fill)).size).toBe(1);
  });

  it('rejects empty, ragged, mislabelled and non-finite input with exit code 2', () => {
    const cases: [() => string, RegExp][] = [
      [() => renderHeatmapSvg([], [], [], 'k'), /matrix has no rows/],
      [() => renderHeatmapSvg([[]], ['a'], [], 'k'), /matrix\[0\] has no columns/],
      [
        () => renderHeatmapSvg([[1, 2], [3]], ['a', 'b'], ['c', 'd'], 'k'),
        /matrix\[1\] has 1 columns, expected 2/,
      ],
      [() => renderHeatmapSvg([[1, 2]], ['a', 'b'], ['c', 'd'], 'k'), /2 row labels for 1 rows/],
      [() => renderHeatmapSvg([[1, 2]], ['a'], ['c'], 'k'), /1 column labels for 2 columns/],
      [() => renderHeatmapSvg([[1, Number.NaN]], ['a'], ['c', 'd'], 'k'), /matrix\[0\]\[1\] is NaN/],
      [() => renderHeatmapSvg([[1, 2]], ['a'], ['c', 'd'], 'k', { domain: [1, 1] }), /domain \[1, 1\]/],
    ];
    for (const [render, message] of cases) {
      try {
        render();
        expect.unreachable(`accepted input for ${message}`);
      } catch (err) {
        expect(err).toBeInstanceOf(VizInputError);
        expect((err as VizInputError).exitCode).toBe(2);
        expect((err as Error).message).toMatch(message);
      }
    }
  });
});
