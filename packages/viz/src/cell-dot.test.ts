import { CellType, ConvMacroParams, EdgeDesc, NodeDesc, OpDesc } from '@tsnas/descs';
import { type EdgeModel, fromDot, type GraphBaseModel } from 'ts-graphviz';
import { describe, expect, it } from 'vitest';
import { DARTS_V2_NORMAL, DARTS_V2_REDUCE, makeCell, pairsToNodes } from './__tests__/fixtures.js';
import { cellToDot, edgeLabel } from './cell-dot.js';
import { VizInputError } from './errors.js';

interface DotEdge {
  from: string;
  to: string;
  label: string | undefined;
  cls: string | undefined;
}

/** Visible edges of a DOT graph (subgraphs included), read back with ts-graphviz's parser. */
function edgesOf(dot: string): DotEdge[] {
  const out: DotEdge[] = [];
  const walk = (g: GraphBaseModel) => {
    for (const e of g.edges as readonly EdgeModel[]) {
      if (e.attributes.get('style') === 'invis') continue;
      const [from, to] = e.targets.map((t) => ('id' in t ? t.id : ''));
      out.push({
        from,
        to,
        label: e.attributes.get('label') as string | undefined,
        cls: e.attributes.get('class') as string | undefined,
      });
    }
    for (const s of g.subgraphs) walk(s);
  };
  walk(fromDot(dot));
  return out;
}

function nodeIdsOf(dot: string): string[] {
  const ids: string[] = [];
  const walk = (g: GraphBaseModel) => {
    for (const n of g.nodes) ids.push(n.id);
    for (const s of g.subgraphs) walk(s);
  };
  walk(fromDot(dot));
  return [...new Set(ids)].sort();
}

// Labels come back in DOT's escaped form: a line break is the two characters `\n`.
const key = (e: DotEdge) => `${e.from} -> ${e.to} : ${e.label ?? ''}`;

describe('cellToDot', () => {
  it('draws every DARTS_V2 normal edge from its input state with its op label, and every node into c_{k}', () => {
    const dot = cellToDot(makeCell(0, CellType.Regular, pairsToNodes(DARTS_V2_NORMAL)));
    // Expected by hand from the genotype: state 0 = c_{k-2}, 1 = c_{k-1}, 2 = node "0".
    expect(edgesOf(dot).map(key).sort()).toEqual(
      [
        'c_{k-2} -> 0 : sep_conv_3x3',
        'c_{k-1} -> 0 : sep_conv_3x3',
        'c_{k-2} -> 1 : sep_conv_3x3',
        'c_{k-1} -> 1 : sep_conv_3x3',
        'c_{k-1} -> 2 : sep_conv_3x3',
        'c_{k-2} -> 2 : skip_connect',
        'c_{k-2} -> 3 : skip_connect',
        '0 -> 3 : dil_conv_3x3',
        '0 -> c_{k} : ',
        '1 -> c_{k} : ',
        '2 -> c_{k} : ',
        '3 -> c_{k} : ',
      ].sort(),
    );
    expect(nodeIdsOf(dot)).toEqual(['0', '1', '2', '3', 'c_{k-1}', 'c_{k-2}', 'c_{k}']);
    expect(dot).toContain('normal cell 0, post op: concate_channels');
  });

  it('labels stride-2 edges of a reduction cell and colours them by op family', () => {
    const dot = cellToDot(makeCell(2, CellType.Reduction, pairsToNodes(DARTS_V2_REDUCE)));
    const opEdges = edgesOf(dot).filter((e) => e.to !== 'c_{k}');
    expect(opEdges.map(key).sort()).toEqual(
      [
        'c_{k-2} -> 0 : max_pool_3x3\\nstride 2',
        'c_{k-1} -> 0 : max_pool_3x3\\nstride 2',
        '0 -> 1 : skip_connect',
        'c_{k-1} -> 1 : max_pool_3x3\\nstride 2',
        'c_{k-2} -> 2 : max_pool_3x3\\nstride 2',
        '0 -> 2 : skip_connect',
        '0 -> 3 : skip_connect',
        'c_{k-1} -> 3 : max_pool_3x3\\nstride 2',
      ].sort(),
    );
    for (const e of opEdges)
      expect(e.cls).toBe(e.label?.startsWith('max_pool') ? 'op op_pool' : 'op op_skip');
    expect(dot).toContain('reduction cell 2');
  });

  it('draws empty nodes and feeds only the last out_states states into c_{k}', () => {
    const cell = makeCell(0, CellType.Regular, [[['sep_conv_5x5', 1]], [], [['none', 2]], []], {
      out_states: 2,
    });
    const dot = cellToDot(cell, { title: null });
    expect(nodeIdsOf(dot)).toEqual(['0', '1', '2', '3', 'c_{k-1}', 'c_{k-2}', 'c_{k}']);
    expect(edgesOf(dot).map(key).sort()).toEqual(
      ['c_{k-1} -> 0 : sep_conv_5x5', '0 -> 2 : none', '2 -> c_{k} : ', '3 -> c_{k} : '].sort(),
    );
    expect(dot).toContain('(empty)');
    expect(dot).not.toContain('post op:');
  });

  it('joins the two cell inputs when a cell has no nodes (Archai uses out_states 2 then)', () => {
    const dot = cellToDot(makeCell(0, CellType.Regular, []));
    expect(edgesOf(dot).map(key).sort()).toEqual(['c_{k-1} -> c_{k} : ', 'c_{k-2} -> c_{k} : ']);
  });

  it('draws one edge per input of a multi-input op and names the candidates of a search op', () => {
    const conv = new ConvMacroParams(8, 8);
    const mixed = new OpDesc('mixed_op', { conv, stride: 1 }, 1, null, [
      new OpDesc('max_pool_3x3', { conv }, 1),
      new OpDesc('skip_connect', { conv }, 1),
      new OpDesc('none', { conv }, 1),
    ]);
    const cell = makeCell(0, CellType.Regular, [[], []]);
    cell.nodes()[0] = new NodeDesc([new EdgeDesc(mixed, [1])], conv);
    cell.nodes()[1] = new NodeDesc([new EdgeDesc(new OpDesc('multi_op', { conv }, 2), [0, 2])], conv);
    const edges = edgesOf(cellToDot(cell)).filter((e) => e.to !== 'c_{k}');
    expect(edges.map(key).sort()).toEqual(
      [
        'c_{k-1} -> 0 : mixed_op (3 ops)',
        'c_{k-2} -> 1 : multi_op\\n[input 0]',
        '0 -> 1 : multi_op\\n[input 1]',
      ].sort(),
    );
  });

  it('rejects an edge that reads a state not computed yet, naming cell, node, edge and id', () => {
    const cell = makeCell(3, CellType.Reduction, [[['skip_connect', 0]], [['sep_conv_3x3', 3]]]);
    const err = (() => {
      try {
        cellToDot(cell);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(VizInputError);
    expect((err as VizInputError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(
      /reduction cell 3: node 1 edge 0 \('sep_conv_3x3'\) reads input id 3/,
    );
  });

  it('rejects an out_states larger than the number of states', () => {
    const cell = makeCell(0, CellType.Regular, pairsToNodes(DARTS_V2_NORMAL), { out_states: 7 });
    expect(() => cellToDot(cell)).toThrow(/out_states is 7, expected an integer in 1\.\.6/);
  });
});

describe('edgeLabel', () => {
  it('adds the stride only when it is not 1', () => {
    expect(edgeLabel(new OpDesc('dil_conv_5x5', { stride: 2 }, 1))).toBe('dil_conv_5x5\nstride 2');
    expect(edgeLabel(new OpDesc('dil_conv_5x5', { stride: 1 }, 1))).toBe('dil_conv_5x5');
    expect(edgeLabel(new OpDesc('skip_connect', {}, 1))).toBe('skip_connect');
  });
});
