import { type CellDesc, CellType, type OpDesc } from '@tsnas/descs';
import { digraph, toDot } from 'ts-graphviz';
import { VizInputError } from './errors.js';
import { OP_FAMILY_STYLES, opFamily } from './op-style.js';

export interface CellDotOptions {
  /** Caption under the picture; `null` for none. Default: `normal cell 0, post op: concate_channels`. */
  title?: string | null;
  /** Layout direction; DARTS pictures run left to right (the default). */
  rankdir?: 'LR' | 'TB';
}

/** Graphviz node ids of the two cell inputs (outputs of the previous two cells) and of the cell output. */
export const CELL_INPUT_IDS = ['c_{k-2}', 'c_{k-1}'] as const;
export const CELL_OUTPUT_ID = 'c_{k}';

const FONT = 'Helvetica,Arial,sans-serif';
const FILL = { input: '#C6E5B1', node: '#CFE2F3', empty: '#F2F2F2', output: '#FCE8B2' } as const;

/** Graphviz id of cell state `i`: states 0 and 1 are the cell inputs, state 2 + j is intermediate node j. */
export function cellStateId(i: number): string {
  return i < 2 ? CELL_INPUT_IDS[i] : String(i - 2);
}

/** Edge caption: the op name, how many candidates a search op mixes, and its stride when not 1. */
export function edgeLabel(op: OpDesc): string {
  const lines = [op.children && op.children.length > 0 ? `${op.name} (${op.children.length} ops)` : op.name];
  const stride = op.params.stride;
  if (stride !== undefined && stride !== 1) lines.push(`stride ${stride}`);
  return lines.join('\n');
}

function cellName(cell: CellDesc): string {
  return `${cell.cellType === CellType.Reduction ? 'reduction' : 'normal'} cell ${cell.id}`;
}

/**
 * The states the post op consumes: the last `out_states` of [input0, input1, node0, ...] (Archai's
 * MergeOp), defaulting to all intermediate nodes, or the two inputs when the cell has no nodes.
 */
export function postOpInputs(cell: CellDesc): number[] {
  const nStates = 2 + cell.nodes().length;
  const raw = cell.postOp.params.out_states;
  const outStates = raw ?? (cell.nodes().length > 0 ? cell.nodes().length : 2);
  if (!Number.isInteger(outStates) || outStates < 1 || outStates > nStates) {
    throw new VizInputError(
      `${cellName(cell)}: post op '${cell.postOp.name}' params.out_states is ${String(raw)}, ` +
        `expected an integer in 1..${nStates}`,
    );
  }
  return Array.from({ length: outStates }, (_, k) => nStates - outStates + k);
}

/** Checks every edge reads only states computed before its node, as Archai's Cell.forward requires. */
function checkInputs(cell: CellDesc): void {
  cell.nodes().forEach((node, ni) => {
    node.edges.forEach((edge, ei) => {
      for (const id of edge.inputIds) {
        if (!Number.isInteger(id) || id < 0 || id >= 2 + ni) {
          throw new VizInputError(
            `${cellName(cell)}: node ${ni} edge ${ei} ('${edge.opDesc.name}') reads input id ${id}, ` +
              `expected an integer in 0..${1 + ni} (0, 1: cell inputs; 2 + j: node j before this one)`,
          );
        }
      }
    });
  });
}

/** Graphviz DOT for the classic DARTS cell picture: c_{k-2}, c_{k-1} -> nodes 0..n-1 -> c_{k}. */
export function cellToDot(cell: CellDesc, opts: CellDotOptions = {}): string {
  checkInputs(cell);
  const outInputs = postOpInputs(cell);
  const title = opts.title === undefined ? `${cellName(cell)}, post op: ${cell.postOp.name}` : opts.title;
  const nodes = cell.nodes();

  const graph = digraph('cell', (g) => {
    g.set('rankdir', opts.rankdir ?? 'LR');
    g.set('bgcolor', 'white');
    g.set('nodesep', 0.35);
    g.set('ranksep', 0.8);
    g.set('fontname', FONT);
    if (title !== null) {
      g.set('label', title);
      g.set('labelloc', 'b');
      g.set('fontsize', 14);
    }
    g.attributes.node.apply({
      shape: 'box',
      style: 'rounded,filled',
      fontname: FONT,
      fontsize: 13,
      penwidth: 1.2,
      color: '#555555',
      height: 0.45,
    });
    g.attributes.edge.apply({ fontname: FONT, fontsize: 11, arrowsize: 0.7, penwidth: 1.4 });

    g.subgraph({ rank: 'source' }, (s) => {
      for (const id of CELL_INPUT_IDS) s.node(id, { fillcolor: FILL.input, class: 'cell_input' });
      // Keeps c_{k-2} above c_{k-1} in every picture, so normal and reduction cells read alike.
      s.edge([...CELL_INPUT_IDS], { style: 'invis' });
    });
    nodes.forEach((node, j) => {
      const empty = node.edges.length === 0;
      g.node(String(j), {
        fillcolor: empty ? FILL.empty : FILL.node,
        class: empty ? 'cell_node empty' : 'cell_node',
        ...(empty ? { style: 'rounded,filled,dashed', label: `${j}\n(empty)`, fontcolor: '#777777' } : {}),
      });
    });
    g.subgraph({ rank: 'sink' }, (s) => {
      s.node(CELL_OUTPUT_ID, { fillcolor: FILL.output, class: 'cell_output', tooltip: cell.postOp.name });
    });

    nodes.forEach((node, j) => {
      for (const edge of node.edges) {
        const family = opFamily(edge.opDesc.name);
        const style = OP_FAMILY_STYLES[family];
        const label = edgeLabel(edge.opDesc);
        edge.inputIds.forEach((input, port) => {
          g.edge([cellStateId(input), String(j)], {
            label: edge.inputIds.length > 1 ? `${label}\n[input ${port}]` : label,
            color: style.color,
            fontcolor: style.color,
            style: style.style,
            class: `op op_${family}`,
          });
        });
      }
    });
    for (const state of outInputs) {
      g.edge([cellStateId(state), CELL_OUTPUT_ID], { color: '#888888', class: 'post_op', arrowsize: 0.6 });
    }
  });
  return toDot(graph);
}
