import { CellType } from '@tsnas/descs';
import { describe, expect, it } from 'vitest';
import { DARTS_V2_NORMAL, makeCell, makeModel, pairsToNodes } from './__tests__/fixtures.js';
import { allText, findAll, hasClass, parseSvg } from './__tests__/svg-tree.js';
import { renderCellSvg, renderModelCellsSvg } from './cell-svg.js';
import { VizInputError } from './errors.js';
import { loadGraphviz, renderDotSvg } from './graphviz.js';

describe('renderCellSvg', () => {
  it('renders well-formed SVG with every node, every edge and every op label', async () => {
    const svg = await renderCellSvg(makeCell(0, CellType.Regular, pairsToNodes(DARTS_V2_NORMAL)));
    const root = parseSvg(svg);
    const nodes = findAll(root, (e) => e.tag === 'g' && hasClass(e, 'node'));
    // Graphviz puts each node's id in its <title>: 2 inputs + 4 intermediate nodes + c_{k}.
    expect(nodes.map((n) => n.children.find((c) => c.tag === 'title')?.text).sort()).toEqual(
      ['0', '1', '2', '3', 'c_{k-1}', 'c_{k-2}', 'c_{k}'].sort(),
    );
    const edges = findAll(root, (e) => e.tag === 'g' && hasClass(e, 'edge'));
    expect(edges.filter((e) => hasClass(e, 'op'))).toHaveLength(8);
    expect(edges.filter((e) => hasClass(e, 'post_op'))).toHaveLength(4);
    const labels = allText(root);
    expect(labels.filter((t) => t === 'sep_conv_3x3')).toHaveLength(5);
    expect(labels.filter((t) => t === 'skip_connect')).toHaveLength(2);
    expect(labels.filter((t) => t === 'dil_conv_3x3')).toHaveLength(1);
    // Edge colour follows the op family (sep conv edges are orange).
    const sep = edges.find((e) => hasClass(e, 'op_sep_conv'))!;
    expect(findAll(sep, (e) => e.tag === 'path')[0].attrs.stroke).toBe('#d55e00');
  });

  it('draws an empty node with a dashed outline', async () => {
    const root = parseSvg(await renderCellSvg(makeCell(0, CellType.Regular, [[['max_pool_3x3', 0]], []])));
    const empty = findAll(root, (e) => e.tag === 'g' && hasClass(e, 'empty'));
    expect(empty).toHaveLength(1);
    expect(allText(empty[0])).toEqual(['1', '(empty)']);
    expect(
      findAll(empty[0], (e) => e.tag === 'path' || e.tag === 'polygon')[0].attrs['stroke-dasharray'],
    ).toBe('5,2');
  });
});

describe('renderModelCellsSvg', () => {
  it('draws the first regular and the first reduction cell', async () => {
    const model = makeModel([CellType.Regular, CellType.Reduction, CellType.Regular, CellType.Reduction]);
    const { normal, reduce } = await renderModelCellsSvg(model);
    expect(allText(parseSvg(normal!))).toContain('normal cell 0, post op: concate_channels');
    const reduceText = allText(parseSvg(reduce!));
    expect(reduceText).toContain('reduction cell 1, post op: concate_channels');
    expect(reduceText.filter((t) => t === 'stride 2')).toHaveLength(5);
  });

  it('returns null for a cell type the model lacks', async () => {
    const { normal, reduce } = await renderModelCellsSvg(makeModel([CellType.Reduction, CellType.Reduction]));
    expect(normal).toBeNull();
    expect(reduce).toContain('<svg');
  });

  it('rejects a model without cells', async () => {
    await expect(renderModelCellsSvg(makeModel([]))).rejects.toBeInstanceOf(VizInputError);
  });
});

describe('graphviz loading', () => {
  it('loads the wasm once and reuses it', async () => {
    const a = await loadGraphviz();
    expect(await loadGraphviz()).toBe(a);
  });

  it('reports a DOT syntax error as an input error', async () => {
    await expect(renderDotSvg('digraph { a -> }')).rejects.toThrow(
      /Graphviz could not lay out.*syntax error/,
    );
  });
});
