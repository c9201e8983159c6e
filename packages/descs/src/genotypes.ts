// DARTS-style genotypes: the named cells of the DARTS and P-DARTS papers, a parser for the
// `Genotype(normal=[...], ...)` strings those projects print, and conversion to and from ModelDesc.
import { ModelDescBuilder } from './builder.js';
import { DescError } from './errors.js';
import {
  CellType,
  type ConfCell,
  type ConfModelDesc,
  ConvMacroParams,
  EdgeDesc,
  type ModelDesc,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from './model-desc.js';

/** One incoming edge of a node: the op and the state it reads (0 = s0, 1 = s1, k+2 = node k). */
export type GenotypeEdge = [op: string, input: number];

/**
 * A cell pair as the DARTS code writes it: node i of a cell has the two edges at 2i and 2i+1, and
 * the cell output concatenates the states listed in `*Concat`.
 */
export interface Genotype {
  normal: GenotypeEdge[];
  normalConcat: number[];
  reduce: GenotypeEdge[];
  reduceConcat: number[];
}

/** Edges per node in a genotype string (DARTS keeps the two strongest). */
export const EDGES_PER_NODE = 2;

const range = (start: number, stop: number): number[] =>
  Array.from({ length: Math.max(0, stop - start) }, (_, i) => start + i);

// From the DARTS repository (quark0/darts, cnn/genotypes.py): first- and second-order search.
export const DARTS_V1: Genotype = {
  normal: [
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 0],
    ['skip_connect', 0],
    ['sep_conv_3x3', 1],
    ['skip_connect', 0],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 0],
    ['skip_connect', 2],
  ],
  normalConcat: [2, 3, 4, 5],
  reduce: [
    ['max_pool_3x3', 0],
    ['max_pool_3x3', 1],
    ['skip_connect', 2],
    ['max_pool_3x3', 0],
    ['max_pool_3x3', 0],
    ['skip_connect', 2],
    ['skip_connect', 2],
    ['avg_pool_3x3', 0],
  ],
  reduceConcat: [2, 3, 4, 5],
};

export const DARTS_V2: Genotype = {
  normal: [
    ['sep_conv_3x3', 0],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 0],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 1],
    ['skip_connect', 0],
    ['skip_connect', 0],
    ['dil_conv_3x3', 2],
  ],
  normalConcat: [2, 3, 4, 5],
  reduce: [
    ['max_pool_3x3', 0],
    ['max_pool_3x3', 1],
    ['skip_connect', 2],
    ['max_pool_3x3', 1],
    ['max_pool_3x3', 0],
    ['skip_connect', 2],
    ['skip_connect', 2],
    ['max_pool_3x3', 1],
  ],
  reduceConcat: [2, 3, 4, 5],
};

// From the P-DARTS repository (chenxin061/pdarts, genotypes.py).
export const PDARTS: Genotype = {
  normal: [
    ['skip_connect', 0],
    ['dil_conv_3x3', 1],
    ['skip_connect', 0],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 1],
    ['sep_conv_3x3', 3],
    ['sep_conv_3x3', 0],
    ['dil_conv_5x5', 4],
  ],
  normalConcat: range(2, 6),
  reduce: [
    ['avg_pool_3x3', 0],
    ['sep_conv_5x5', 1],
    ['sep_conv_3x3', 0],
    ['dil_conv_5x5', 2],
    ['max_pool_3x3', 0],
    ['dil_conv_3x3', 1],
    ['dil_conv_3x3', 1],
    ['dil_conv_5x5', 3],
  ],
  reduceConcat: range(2, 6),
};

const NAMED: Record<string, Genotype> = {
  DARTS_V1,
  DARTS_V2,
  // The DARTS repository's `DARTS = DARTS_V2`.
  DARTS: DARTS_V2,
  PDARTS,
};

export function cloneGenotype(g: Genotype): Genotype {
  return {
    normal: g.normal.map(([op, i]) => [op, i]),
    normalConcat: [...g.normalConcat],
    reduce: g.reduce.map(([op, i]) => [op, i]),
    reduceConcat: [...g.reduceConcat],
  };
}

/** The names `getGenotype` knows. */
export function genotypeNames(): string[] {
  return Object.keys(NAMED).sort();
}

/** A named genotype (DARTS_V1, DARTS_V2, DARTS, PDARTS), case-insensitive; returns a copy. */
export function getGenotype(name: string): Genotype {
  const g = NAMED[name.trim().toUpperCase()];
  if (!g) {
    throw new DescError(
      `unknown genotype '${name}'; known genotypes: ${genotypeNames().join(', ')} (or give a Genotype(normal=[...], ...) string)`,
    );
  }
  return cloneGenotype(g);
}

/** A genotype name or a `Genotype(...)` string, as a user would type either on the command line. */
export function resolveGenotype(nameOrString: string, source?: string): Genotype {
  return nameOrString.includes('(') ? parseGenotype(nameOrString, source) : getGenotype(nameOrString);
}

// ---------------------------------------------------------------------------------------------
// Validation

type CellField = 'normal' | 'reduce';
const FIELDS = ['normal', 'normal_concat', 'reduce', 'reduce_concat'] as const;
type FieldName = (typeof FIELDS)[number];

interface GenotypeIssue {
  field: FieldName;
  index: number | null;
  message: string;
}

function cellIssues(edges: GenotypeEdge[], field: CellField): GenotypeIssue[] {
  const issues: GenotypeIssue[] = [];
  if (edges.length % EDGES_PER_NODE !== 0) {
    issues.push({
      field,
      index: null,
      message: `${field} has ${edges.length} edges; expected ${EDGES_PER_NODE} per node (an even count)`,
    });
  }
  edges.forEach(([op, input], k) => {
    const node = Math.floor(k / EDGES_PER_NODE);
    if (typeof op !== 'string' || op === '') {
      issues.push({
        field,
        index: k,
        message: `${field}[${k}]: expected an op name, got ${JSON.stringify(op)}`,
      });
    }
    if (!Number.isInteger(input) || input < 0 || input >= node + 2) {
      issues.push({
        field,
        index: k,
        message: `${field}[${k}] ('${op}', ${input}): node ${node} can read states 0..${node + 1} (s0, s1 and the nodes before it), not ${input}`,
      });
    }
  });
  return issues;
}

function concatIssues(concat: number[], nNodes: number, field: FieldName): GenotypeIssue[] {
  return concat.flatMap((s, k) =>
    Number.isInteger(s) && s >= 0 && s < nNodes + 2
      ? []
      : [
          {
            field,
            index: k,
            message: `${field}[${k}]: state ${s} does not exist; the cell has states 0..${nNodes + 1}`,
          },
        ],
  );
}

function genotypeIssues(g: Genotype): GenotypeIssue[] {
  return [
    ...cellIssues(g.normal, 'normal'),
    ...concatIssues(g.normalConcat, Math.floor(g.normal.length / EDGES_PER_NODE), 'normal_concat'),
    ...cellIssues(g.reduce, 'reduce'),
    ...concatIssues(g.reduceConcat, Math.floor(g.reduce.length / EDGES_PER_NODE), 'reduce_concat'),
  ];
}

/** Throws (exit code 2) if a node reads a state that does not exist or the edges are not pairs. */
export function validateGenotype(g: Genotype, source = 'genotype'): void {
  const issues = genotypeIssues(g);
  if (issues.length > 0) throw new DescError(`${source}: ${issues.map((i) => i.message).join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// Parsing `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), ...)`

/** More concat states than any cell of a parseable size could have. */
const MAX_CONCAT = 10_000;

class GenotypeParser {
  private pos = 0;
  /** Where each parsed edge / concat entry starts, to point errors found after parsing at it. */
  readonly positions = new Map<string, number>();

  constructor(
    private readonly text: string,
    private readonly source: string,
  ) {}

  private lineCol(pos: number): string {
    const before = this.text.slice(0, pos);
    const line = before.split('\n').length;
    const col = pos - before.lastIndexOf('\n');
    return `${line}:${col}`;
  }

  error(expected: string, at = this.pos): never {
    const rest = this.text.slice(at);
    const found = rest.length === 0 ? 'the end of the text' : JSON.stringify(rest.slice(0, 16));
    throw new DescError(`${this.source}:${this.lineCol(at)}: expected ${expected}, found ${found}`);
  }

  errorAt(at: number, message: string): never {
    throw new DescError(`${this.source}:${this.lineCol(at)}: ${message}`);
  }

  private skipWs(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private peek(): string {
    this.skipWs();
    return this.text[this.pos] ?? '';
  }

  private accept(ch: string): boolean {
    if (this.peek() === ch) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(ch: string, what: string): void {
    if (!this.accept(ch)) this.error(what);
  }

  /** Matches `re` (sticky) at the current position; no copy of the rest of the text. */
  private match(re: RegExp): string | null {
    this.skipWs();
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) return null;
    this.pos += m[0].length;
    return m[0];
  }

  private ident(): string | null {
    return this.match(/[A-Za-z_][A-Za-z0-9_]*/y);
  }

  private int(what: string): number {
    const digits = this.match(/[+-]?\d+/y);
    if (digits === null) this.error(what);
    return Number(digits);
  }

  private str(what: string): string {
    const quote = this.peek();
    if (quote !== "'" && quote !== '"') this.error(what);
    const start = this.pos;
    this.pos++;
    let out = '';
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === '\\' && this.pos + 1 < this.text.length) this.pos++;
      out += this.text[this.pos++];
    }
    if (this.pos >= this.text.length) this.errorAt(start, `unterminated string starting here`);
    this.pos++;
    return out;
  }

  private edges(field: CellField): GenotypeEdge[] {
    this.expect('[', `'[' to start the ${field} edge list`);
    const out: GenotypeEdge[] = [];
    while (!this.accept(']')) {
      const open = this.peek();
      if (open !== '(' && open !== '[') this.error(`an edge like ('sep_conv_3x3', 0) or ']'`);
      this.positions.set(`${field}:${out.length}`, this.pos);
      this.pos++;
      const close = open === '(' ? ')' : ']';
      const op = this.str('an op name in quotes');
      this.expect(',', `',' after the op name`);
      const input = this.int('an input state index (an integer)');
      this.accept(',');
      this.expect(close, `'${close}' to close the edge`);
      out.push([op, input]);
      if (!this.accept(',')) {
        this.expect(']', `',' or ']' after an edge`);
        break;
      }
    }
    return out;
  }

  private concat(field: FieldName): number[] {
    const start = this.pos;
    const name = this.ident();
    if (name !== null) {
      if (name !== 'range') this.error(`a list like [2, 3, 4, 5] or range(2, 6)`, start);
      this.expect('(', `'(' after range`);
      const a = this.int('an integer');
      let b: number | null = null;
      if (this.accept(',') && this.peek() !== ')') b = this.int('an integer');
      this.accept(',');
      this.expect(')', `')' to close range(...)`);
      const [from, to] = b === null ? [0, a] : [a, b];
      // A cell has a handful of states; refuse a huge range before building it.
      if (to - from > MAX_CONCAT) {
        this.errorAt(
          start,
          `range(${b === null ? a : `${a}, ${b}`}) has ${to - from} states; a cell has at most ${MAX_CONCAT}`,
        );
      }
      return range(from, to);
    }
    const open = this.peek();
    if (open !== '[' && open !== '(') this.error(`a list like [2, 3, 4, 5] or range(2, 6)`);
    this.pos++;
    const close = open === '[' ? ']' : ')';
    const out: number[] = [];
    while (!this.accept(close)) {
      this.positions.set(`${field}:${out.length}`, this.pos);
      out.push(this.int(`a state index or '${close}'`));
      if (!this.accept(',')) {
        this.expect(close, `',' or '${close}'`);
        break;
      }
    }
    return out;
  }

  parse(): Genotype {
    this.skipWs();
    const start = this.pos;
    const head = this.ident();
    if (head !== null && head !== 'Genotype') this.error(`'Genotype('`, start);
    this.expect('(', head === null ? `'Genotype('` : `'(' after Genotype`);

    const values: Partial<Record<FieldName, GenotypeEdge[] | number[]>> = {};
    let positional = 0;
    let sawKeyword = false;
    while (!this.accept(')')) {
      this.skipWs();
      const argStart = this.pos;
      let field: FieldName;
      const name = this.ident();
      if (name !== null && this.peek() === '=') {
        this.pos++;
        if (!(FIELDS as readonly string[]).includes(name)) {
          this.errorAt(argStart, `unknown field '${name}'; expected one of ${FIELDS.join(', ')}`);
        }
        field = name as FieldName;
        sawKeyword = true;
      } else {
        this.pos = argStart;
        if (sawKeyword) this.errorAt(argStart, 'a positional value cannot follow a named one');
        if (positional >= FIELDS.length) this.error(`')' (a genotype has ${FIELDS.length} fields)`);
        field = FIELDS[positional++];
      }
      if (values[field] !== undefined) this.errorAt(argStart, `field '${field}' given twice`);
      values[field] = field === 'normal' || field === 'reduce' ? this.edges(field) : this.concat(field);
      if (!this.accept(',')) {
        this.expect(')', `',' or ')' after the ${field} value`);
        break;
      }
    }
    this.skipWs();
    if (this.pos < this.text.length) this.error('the end of the text after the closing )');
    const missing = FIELDS.filter((f) => values[f] === undefined);
    if (missing.length > 0) {
      this.errorAt(this.pos, `missing field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    }
    const g: Genotype = {
      normal: values.normal as GenotypeEdge[],
      normalConcat: values.normal_concat as number[],
      reduce: values.reduce as GenotypeEdge[],
      reduceConcat: values.reduce_concat as number[],
    };
    const issues = genotypeIssues(g);
    if (issues.length > 0) {
      const first = issues[0];
      const at = first.index === null ? undefined : this.positions.get(`${first.field}:${first.index}`);
      throw new DescError(
        `${this.source}${at === undefined ? '' : `:${this.lineCol(at)}`}: ${issues.map((i) => i.message).join('; ')}`,
      );
    }
    return g;
  }
}

/**
 * Parses a genotype as the DARTS code prints it. Accepts range(...) or list concat, either quote
 * style, tuples or lists for edges, any whitespace, positional or named fields. `source` names the
 * text in error messages (a file, or "--genotype").
 */
export function parseGenotype(text: string, source = 'genotype'): Genotype {
  return new GenotypeParser(text, source).parse();
}

const edgeListToString = (edges: GenotypeEdge[]): string =>
  `[${edges.map(([op, i]) => `('${op}', ${i})`).join(', ')}]`;

/** The normalised Python-style text, e.g. `Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], ...)`. */
export function genotypeToString(g: Genotype): string {
  return (
    `Genotype(normal=${edgeListToString(g.normal)}, normal_concat=[${g.normalConcat.join(', ')}], ` +
    `reduce=${edgeListToString(g.reduce)}, reduce_concat=[${g.reduceConcat.join(', ')}])`
  );
}

// ---------------------------------------------------------------------------------------------
// Genotype <-> ModelDesc

/**
 * Builds a desc whose cells carry the genotype's edges; as a template for ModelDescBuilder it
 * yields the evaluation network. Uses only builder hooks, the way search algorithms do.
 */
export class GenotypeModelDescBuilder extends ModelDescBuilder {
  constructor(readonly genotype: Genotype) {
    super();
    validateGenotype(genotype);
  }

  private cellEdges(cellType: CellType): GenotypeEdge[] {
    return cellType === CellType.Reduction ? this.genotype.reduce : this.genotype.normal;
  }

  override preBuild(conf: ConfModelDesc): void {
    for (const [field, edges, concat] of [
      ['normal', this.genotype.normal, this.genotype.normalConcat],
      ['reduce', this.genotype.reduce, this.genotype.reduceConcat],
    ] as const) {
      const n = edges.length / EDGES_PER_NODE;
      const expected = range(2, 2 + n);
      // Archai's cell post op takes the outputs of all nodes; other concat lists (NASNet's
      // [4, 5, 6]) describe a cell it cannot build.
      if (concat.length !== expected.length || concat.some((s, i) => s !== expected[i])) {
        throw new DescError(
          `genotype ${field}_concat=[${concat.join(', ')}] is not supported: a cell's ${conf.cell.cell_post_op} takes every node output, so it must be [${expected.join(', ')}] for ${n} nodes`,
        );
      }
    }
  }

  override getNodeCount(cellIndex: number): number {
    return this.cellEdges(this.getCellType(cellIndex)).length / EDGES_PER_NODE;
  }

  override buildNodes(
    stemShapes: TensorShapes,
    confCell: ConfCell,
    cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): { nodeShapes: TensorShapes; nodes: NodeDesc[] } {
    const built = super.buildNodes(stemShapes, confCell, cellIndex, cellType, nodeCount, inShape, outShape);
    const c = stemShapes[0][0];
    const edges = this.cellEdges(cellType);
    const nodes = built.nodes.map((node, i) => {
      const pair = edges.slice(EDGES_PER_NODE * i, EDGES_PER_NODE * (i + 1));
      const nodeEdges = pair.map(([op, input]) => {
        // In a reduction cell the edges from the two cell inputs halve H and W.
        const stride = cellType === CellType.Reduction && input < 2 ? 2 : 1;
        return new EdgeDesc(new OpDesc(op, { conv: new ConvMacroParams(c, c), stride }, 1), [input]);
      });
      return new NodeDesc(nodeEdges, node.convParams);
    });
    return { nodeShapes: built.nodeShapes, nodes };
  }
}

/**
 * A template desc carrying the genotype's cells (every cell of a type gets that type's edges), so
 * that `new ModelDescBuilder().build(evalConf, template)` builds the evaluation network.
 */
export function genotypeToTemplate(genotype: Genotype, conf: ConfModelDesc): ModelDesc {
  return new GenotypeModelDescBuilder(genotype).build(conf);
}

/**
 * The genotype of a desc's first regular and first reduction cell. Every node must have exactly
 * two single-input edges (a finalized DARTS cell); concat lists all nodes, which is what both cell
 * post ops (concate_channels, proj_channels) take.
 */
export function modelDescToGenotype(desc: ModelDesc): Genotype {
  const cells = desc.cellDescs();
  const cellGenotype = (cellType: CellType): { edges: GenotypeEdge[]; concat: number[] } => {
    const ci = cells.findIndex((c) => c.cellType === cellType);
    if (ci < 0) return { edges: [], concat: [] };
    const nodes = cells[ci].nodes();
    const edges: GenotypeEdge[] = [];
    nodes.forEach((node, ni) => {
      if (node.edges.length !== EDGES_PER_NODE) {
        throw new DescError(
          `cells[${ci}].nodes[${ni}]: has ${node.edges.length} edges; a genotype needs exactly ${EDGES_PER_NODE} per node (finalize the desc first)`,
          { path: `cells[${ci}].nodes[${ni}].edges` },
        );
      }
      node.edges.forEach((e, ei) => {
        if (e.inputIds.length !== 1) {
          throw new DescError(
            `cells[${ci}].nodes[${ni}].edges[${ei}]: op '${e.opDesc.name}' reads ${e.inputIds.length} states; a genotype edge reads one`,
            { path: `cells[${ci}].nodes[${ni}].edges[${ei}].input_ids` },
          );
        }
        edges.push([e.opDesc.name, e.inputIds[0]]);
      });
    });
    return { edges, concat: range(2, 2 + nodes.length) };
  };
  const normal = cellGenotype(CellType.Regular);
  const reduce = cellGenotype(CellType.Reduction);
  return {
    normal: normal.edges,
    normalConcat: normal.concat,
    reduce: reduce.edges,
    reduceConcat: reduce.concat,
  };
}
