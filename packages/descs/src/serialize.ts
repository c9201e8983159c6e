// Save and load ModelDesc as YAML or JSON: plain data with Archai's snake_case names, a fixed key
// order and no language tags, so a desc file is diffable and any program can read it.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { isMap, isScalar, isSeq, type Node, Document as YamlDocument, visit } from 'yaml';
import type { z } from 'zod';
import {
  type ArchaiYamlOptions,
  archaiYamlFromPlain,
  archaiYamlToPlain,
  isArchaiDescYaml,
} from './archai.js';
import { DescError, formatPath } from './errors.js';
import { parseDescYaml } from './internal/yaml-doc.js';
import {
  type AuxTowerDescPlain,
  type CellDescPlain,
  type ConvPlain,
  DESC_FORMAT,
  DESC_VERSION,
  type ModelDescPlain,
  modelDescSchema,
  type NodeDescPlain,
  type OpDescPlain,
} from './internal/desc-schema.js';
import {
  AuxTowerDesc,
  CellDesc,
  CellType,
  type ConfCell,
  type ConfModelDesc,
  ConvMacroParams,
  EdgeDesc,
  ModelDesc,
  NodeDesc,
  OpDesc,
  type OpParams,
  type Trainables,
} from './model-desc.js';

export { DESC_FORMAT, DESC_VERSION };
export type { ModelDescPlain };

export interface SaveOptions {
  /**
   * Also write the learned weights that ops store in their descs (default false, as in Archai:
   * a desc file describes an architecture; weights go to checkpoints).
   */
  trainables?: boolean;
}

type Path = (string | number)[];

// ---------------------------------------------------------------------------------------------
// ModelDesc -> plain data

function convToPlain(c: ConvMacroParams): ConvPlain {
  return { ch_in: c.chIn, ch_out: c.chOut };
}

/** Copies a value that must be plain data (what YAML and JSON can hold), naming where it is not. */
function plainData(value: unknown, path: Path): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${formatPath(path)}: ${value} cannot be saved in a desc`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => plainData(v, [...path, i]));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plainData(v, [...path, k]);
    return out;
  }
  throw new Error(`${formatPath(path)}: a ${typeof value} (${String(value)}) cannot be saved in a desc`);
}

function opToPlain(op: OpDesc, opts: SaveOptions, path: Path): OpDescPlain {
  const params: Record<string, unknown> = {};
  // Sorted so that the text does not depend on the order in which a builder set the params.
  for (const key of Object.keys(op.params).sort()) {
    const v = op.params[key];
    if (v === undefined) continue;
    if (key === 'conv') {
      if (!(v instanceof ConvMacroParams)) {
        throw new Error(`${formatPath([...path, 'params', 'conv'])}: expected a ConvMacroParams`);
      }
      params.conv = convToPlain(v);
    } else {
      params[key] = plainData(v, [...path, 'params', key]);
    }
  }
  const out: OpDescPlain = { name: op.name, params, in_len: op.inLen };
  if (opts.trainables && op.trainables) {
    out.trainables = plainData(op.trainables, [...path, 'trainables']) as OpDescPlain['trainables'];
  }
  if (op.children) out.children = op.children.map((c, i) => opToPlain(c, opts, [...path, 'children', i]));
  if (op.childrenIns) out.children_ins = [...op.childrenIns];
  return out;
}

function cellToPlain(cell: CellDesc, opts: SaveOptions, path: Path): CellDescPlain {
  const nodes: NodeDescPlain[] = cell.nodes().map((n, ni) => ({
    conv_params: convToPlain(n.convParams),
    edges: n.edges.map((e, ei) => ({
      op_desc: opToPlain(e.opDesc, opts, [...path, 'nodes', ni, 'edges', ei, 'op_desc']),
      input_ids: [...e.inputIds],
    })),
  }));
  return {
    id: cell.id,
    cell_type: cell.cellType,
    trainables_from: cell.trainablesFrom,
    conf_cell: plainData(cell.confCell, [...path, 'conf_cell']) as Record<string, unknown>,
    stems: cell.stems.map((s, i) => opToPlain(s, opts, [...path, 'stems', i])),
    stem_shapes: cell.stemShapes.map((s) => [...s]),
    nodes,
    node_shapes: cell.nodeShapes.map((s) => [...s]),
    post_op: opToPlain(cell.postOp, opts, [...path, 'post_op']),
    out_shape: [...cell.outShape],
  };
}

/** The plain-data form of a desc, as written to YAML and JSON. */
export function modelDescToObject(desc: ModelDesc, opts: SaveOptions = {}): ModelDescPlain {
  return {
    format: DESC_FORMAT,
    version: DESC_VERSION,
    conf_model_desc: plainData(desc.confModelDesc, ['conf_model_desc']) as Record<string, unknown>,
    model_stems: desc.modelStems.map((s, i) => opToPlain(s, opts, ['model_stems', i])),
    cells: desc.cellDescs().map((c, i) => cellToPlain(c, opts, ['cells', i])),
    aux_tower_descs: desc.auxTowerDescs.map(
      (a): AuxTowerDescPlain | null => a && { ch_in: a.chIn, n_classes: a.nClasses, stride: a.stride },
    ),
    pool_op: opToPlain(desc.poolOp, opts, ['pool_op']),
    logits_op: opToPlain(desc.logitsOp, opts, ['logits_op']),
  };
}

// ---------------------------------------------------------------------------------------------
// Layout: short things on one line (shapes, conv params, a whole edge op), the rest in blocks.

const INLINE_MAX = 100;

function isScalarValue(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function inlinable(v: unknown): boolean {
  if (isScalarValue(v)) return true;
  if (Array.isArray(v)) return v.every(isScalarValue);
  return JSON.stringify(v).length <= INLINE_MAX && Object.values(v as object).every(inlinable);
}

function renderYaml(plain: unknown): string {
  const doc = new YamlDocument(plain);
  visit(doc, {
    Seq(_key, node) {
      if (node.items.every((it) => isScalar(it))) node.flow = true;
    },
    Map(_key, node) {
      if (inlinable(node.toJSON())) node.flow = true;
    },
  });
  // lineWidth 0: never fold, so a long shape list stays one line and the text is the same
  // whatever the terminal or editor width.
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

function renderJson(v: unknown, indent: string): string {
  if (isScalarValue(v)) return JSON.stringify(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (inlinable(v)) return `[${v.map((x) => renderJson(x, inner)).join(', ')}]`;
    return `[\n${v.map((x) => inner + renderJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as object).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return '{}';
  const parts = entries.map(([k, x]) => `${JSON.stringify(k)}: ${renderJson(x, inner)}`);
  if (inlinable(v)) return `{ ${parts.join(', ')} }`;
  return `{\n${parts.map((p) => inner + p).join(',\n')}\n${indent}}`;
}

export function modelDescToYaml(desc: ModelDesc, opts: SaveOptions = {}): string {
  return renderYaml(modelDescToObject(desc, opts));
}

export function modelDescToJSON(desc: ModelDesc, opts: SaveOptions = {}): string {
  return `${renderJson(modelDescToObject(desc, opts), '')}\n`;
}

// ---------------------------------------------------------------------------------------------
// plain data -> ModelDesc, with validation

interface Issue {
  path: Path;
  message: string;
}

/** Maps a path inside the document to `line:col` (YAML only). */
type Locator = (path: Path) => string | undefined;

function fail(issues: Issue[], file: string | undefined, fallbackName: string, locate?: Locator): never {
  const where = (p: Path): string => {
    const pos = locate?.(p);
    return `${file ?? fallbackName}${pos ? `:${pos}` : ''}: ${formatPath(p)}`;
  };
  const shown = issues.slice(0, 10).map((i) => `${where(i.path)}: ${i.message}`);
  if (issues.length > 10) shown.push(`... and ${issues.length - 10} more problems`);
  const head =
    issues.length === 1 ? shown[0] : `${file ?? fallbackName}: invalid model desc:\n  ${shown.join('\n  ')}`;
  throw new DescError(head, { file, path: formatPath(issues[0].path) });
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
};

function zodIssueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `missing; expected ${expected}`;
      return `expected ${expected}, got ${describe(issue.input)}`;
    }
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'too_small':
      return `expected a value >= ${String(issue.minimum)}, got ${describe(issue.input)}`;
    default:
      return issue.message;
  }
}

function opFromPlain(p: OpDescPlain): OpDesc {
  const params: OpParams = {};
  for (const [k, v] of Object.entries(p.params)) {
    if (k === 'conv') {
      const c = v as ConvPlain;
      params.conv = new ConvMacroParams(c.ch_in, c.ch_out);
    } else params[k] = v;
  }
  return new OpDesc(
    p.name,
    params,
    p.in_len,
    (p.trainables as Trainables | undefined) ?? null,
    p.children ? p.children.map(opFromPlain) : null,
    p.children_ins ? [...p.children_ins] : null,
  );
}

function checkOp(op: OpDescPlain, path: Path, issues: Issue[]): void {
  if (op.children || op.children_ins) {
    const n = op.children?.length ?? 0;
    const m = op.children_ins?.length ?? 0;
    if (n !== m) {
      issues.push({
        path: [...path, 'children_ins'],
        message: `${m} entries for ${n} children; expected one input index per child`,
      });
    }
    op.children?.forEach((c, i) => {
      checkOp(c, [...path, 'children', i], issues);
    });
  }
}

const CELL_TYPES: string[] = Object.values(CellType);

/** The checks a schema cannot express: references between parts of the desc. */
function semanticIssues(d: ModelDescPlain): Issue[] {
  const issues: Issue[] = [];
  if (d.model_stems.length < 1 || d.model_stems.length > 2) {
    issues.push({
      path: ['model_stems'],
      message: `expected 1 stem (shared by s0 and s1) or 2, got ${d.model_stems.length}`,
    });
  }
  d.model_stems.forEach((s, i) => {
    checkOp(s, ['model_stems', i], issues);
  });
  checkOp(d.pool_op, ['pool_op'], issues);
  checkOp(d.logits_op, ['logits_op'], issues);
  if (d.aux_tower_descs.length !== d.cells.length) {
    issues.push({
      path: ['aux_tower_descs'],
      message: `expected one entry (or null) per cell, ${d.cells.length}, got ${d.aux_tower_descs.length}`,
    });
  }

  const firstWithId = new Map<number, number>();
  d.cells.forEach((cell, ci) => {
    const at: Path = ['cells', ci];
    const seen = firstWithId.get(cell.id);
    if (seen !== undefined) {
      issues.push({ path: [...at, 'id'], message: `duplicate cell id ${cell.id} (also cells[${seen}].id)` });
    } else firstWithId.set(cell.id, ci);

    if (!CELL_TYPES.includes(cell.cell_type)) {
      issues.push({
        path: [...at, 'cell_type'],
        message: `unknown cell type '${cell.cell_type}'; expected one of ${CELL_TYPES.map((t) => `'${t}'`).join(', ')}`,
      });
    }
    if (cell.stems.length !== 2) {
      issues.push({
        path: [...at, 'stems'],
        message: `expected exactly 2 stems (for s0 and s1), got ${cell.stems.length}`,
      });
    }
    if (cell.stem_shapes.length !== cell.stems.length) {
      issues.push({
        path: [...at, 'stem_shapes'],
        message: `expected one shape per stem (${cell.stems.length}), got ${cell.stem_shapes.length}`,
      });
    }
    if (cell.node_shapes.length !== cell.nodes.length) {
      issues.push({
        path: [...at, 'node_shapes'],
        message: `expected one shape per node (${cell.nodes.length}), got ${cell.node_shapes.length}`,
      });
    }
    const from = d.cells[cell.trainables_from];
    // With an unknown type the cell_type issue says it all; comparing types would only add noise.
    const typesKnown =
      from !== undefined && CELL_TYPES.includes(cell.cell_type) && CELL_TYPES.includes(from.cell_type);
    if (!from) {
      issues.push({
        path: [...at, 'trainables_from'],
        message: `cell index ${cell.trainables_from} does not exist (the desc has ${d.cells.length} cells)`,
      });
    } else if (typesKnown && from.cell_type !== cell.cell_type) {
      issues.push({
        path: [...at, 'trainables_from'],
        message: `a ${cell.cell_type} cell cannot share arch params with cells[${cell.trainables_from}], a ${from.cell_type} cell`,
      });
    }
    cell.stems.forEach((s, i) => {
      checkOp(s, [...at, 'stems', i], issues);
    });
    checkOp(cell.post_op, [...at, 'post_op'], issues);

    cell.nodes.forEach((node, ni) => {
      // States 0 and 1 are the cell stems; node k is state k+2 and may read only earlier states.
      const nStates = 2 + ni;
      node.edges.forEach((edge, ei) => {
        const ep: Path = [...at, 'nodes', ni, 'edges', ei];
        checkOp(edge.op_desc, [...ep, 'op_desc'], issues);
        if (edge.op_desc.in_len !== edge.input_ids.length) {
          issues.push({
            path: [...ep, 'input_ids'],
            message: `op '${edge.op_desc.name}' has in_len ${edge.op_desc.in_len} but ${edge.input_ids.length} input ids [${edge.input_ids.join(', ')}]`,
          });
        }
        edge.input_ids.forEach((id, k) => {
          if (id >= nStates) {
            issues.push({
              path: [...ep, 'input_ids', k],
              message: `input id ${id} does not exist: node ${ni} can read states 0..${nStates - 1} (s0, s1 and the nodes before it)`,
            });
          }
        });
      });
    });
  });
  return issues;
}

function fromValidated(d: ModelDescPlain): ModelDesc {
  const cells = d.cells.map(
    (c) =>
      new CellDesc({
        id: c.id,
        cellType: c.cell_type as CellType,
        confCell: c.conf_cell as ConfCell,
        stems: c.stems.map(opFromPlain),
        stemShapes: c.stem_shapes,
        nodes: c.nodes.map(
          (n) =>
            new NodeDesc(
              n.edges.map((e) => new EdgeDesc(opFromPlain(e.op_desc), [...e.input_ids])),
              new ConvMacroParams(n.conv_params.ch_in, n.conv_params.ch_out),
            ),
        ),
        nodeShapes: c.node_shapes,
        postOp: opFromPlain(c.post_op),
        outShape: c.out_shape,
        trainablesFrom: c.trainables_from,
      }),
  );
  return new ModelDesc({
    confModelDesc: d.conf_model_desc as ConfModelDesc,
    modelStems: d.model_stems.map(opFromPlain),
    poolOp: opFromPlain(d.pool_op),
    cellDescs: cells,
    auxTowerDescs: d.aux_tower_descs.map((a) =>
      a ? new AuxTowerDesc(a.ch_in, a.n_classes, a.stride) : null,
    ),
    logitsOp: opFromPlain(d.logits_op),
  });
}

function fromObject(
  data: unknown,
  file: string | undefined,
  fallbackName: string,
  locate?: Locator,
): ModelDesc {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    fail(
      [{ path: [], message: `expected a mapping (a tsnas model desc), got ${describe(data)}` }],
      file,
      fallbackName,
      locate,
    );
  }
  const header = data as Record<string, unknown>;
  if (header.format !== DESC_FORMAT) {
    fail(
      [
        {
          path: ['format'],
          message: `expected '${DESC_FORMAT}', got ${describe(header.format)}; this is not a tsnas model desc`,
        },
      ],
      file,
      fallbackName,
      locate,
    );
  }
  if (header.version !== DESC_VERSION) {
    fail(
      [
        {
          path: ['version'],
          message: `this @tsnas/descs reads version ${DESC_VERSION}, got ${describe(header.version)}`,
        },
      ],
      file,
      fallbackName,
      locate,
    );
  }
  const parsed = modelDescSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    fail(
      parsed.error.issues.map((i) => ({
        path: i.path.filter((k): k is string | number => typeof k !== 'symbol'),
        message: zodIssueMessage(i),
      })),
      file,
      fallbackName,
      locate,
    );
  }
  // zod's output puts declared keys first; keep the document's own key order instead, so that
  // load -> save gives the same text. The schema has no transforms, so the input is the value.
  const plain = data as ModelDescPlain;
  const issues = semanticIssues(plain);
  if (issues.length > 0) fail(issues, file, fallbackName, locate);
  return fromValidated(plain);
}

/**
 * Builds a desc from its plain-data form (as parsed from YAML or JSON), validating it. `locate`
 * maps a path in the data to `line:col` in the text it came from, for error messages.
 */
export function modelDescFromObject(data: unknown, file?: string, locate?: Locator): ModelDesc {
  // A copy, so the desc never shares arrays with the caller's object.
  return fromObject(structuredClone(data), file, '<model desc>', locate);
}

/**
 * Reads an Archai desc file's text (PyYAML python objects, Archai HEAD or <= 0.6 module names; see
 * archai.ts). Op names and params are kept as Archai wrote them. Errors (exit code 2) name the
 * file, line and the part of the desc: an unknown tag, a missing field, an edge reading a state
 * that does not exist.
 */
export function modelDescFromArchaiYaml(text: string, file?: string): ModelDesc {
  const { plain, locate } = archaiYamlToPlain(text, file);
  return modelDescFromObject(plain, file, locate);
}

/** A desc as Archai's `ModelDesc.save` writes it (see `archaiYamlFromPlain`). */
export function modelDescToArchaiYaml(desc: ModelDesc, opts: ArchaiYamlOptions = {}): string {
  return archaiYamlFromPlain(desc, modelDescToObject(desc), opts);
}

/** Reads a tsnas desc, or an Archai one (PyYAML python objects, see archai.ts). */
export function modelDescFromYaml(text: string, file?: string): ModelDesc {
  if (isArchaiDescYaml(text)) return modelDescFromArchaiYaml(text, file);
  const name = file ?? '<yaml>';
  const { doc, pos } = parseDescYaml(text, name, file);
  // Archai writes PyYAML python-object tags; they are the one kind of tag a desc must not have.
  const tagWarning = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tagWarning) {
    throw new DescError(
      `${name}:${pos(tagWarning.pos[0])}: unsupported YAML tag (${tagWarning.message.split('\n')[0]}); a tsnas model desc is plain YAML (an Archai desc has a python object at its root)`,
      { file },
    );
  }
  const locate: Locator = (path) => {
    // The deepest node of the path that exists (a missing key points at its parent mapping).
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && (isMap(node) || isSeq(node) || isScalar(node)) && node.range) return pos(node.range[0]);
    }
    return undefined;
  };
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    // yaml throws ReferenceError for an alias without its anchor, or one expanding too much.
    throw new DescError(`${name}: ${(e as Error).message.split('\n')[0]}`, { file, cause: e });
  }
  return fromObject(data, file, name, locate);
}

export function modelDescFromJSON(text: string, file?: string): ModelDesc {
  const name = file ?? '<json>';
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DescError(`${name}: malformed JSON: ${(e as Error).message}`, { file, cause: e });
  }
  return fromObject(data, file, name);
}

// ---------------------------------------------------------------------------------------------
// files

type FileFormat = 'yaml' | 'json';

function formatOf(path: string): FileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  throw new DescError(`${path}: unknown model desc file type '${ext}'; expected .yaml, .yml or .json`, {
    file: path,
  });
}

/** Writes beside and renames: a crash never leaves half a file. */
async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, text, 'utf8');
  await rename(tmp, path);
}

/** Writes a desc as YAML or JSON (by extension), atomically. */
export async function saveModelDesc(desc: ModelDesc, path: string, opts: SaveOptions = {}): Promise<void> {
  await writeAtomic(
    path,
    formatOf(path) === 'yaml' ? modelDescToYaml(desc, opts) : modelDescToJSON(desc, opts),
  );
}

/** Writes `modelDescToArchaiYaml(desc)` to a file, atomically. */
export async function saveArchaiModelDesc(
  desc: ModelDesc,
  path: string,
  opts: ArchaiYamlOptions = {},
): Promise<void> {
  await writeAtomic(path, modelDescToArchaiYaml(desc, opts));
}

/** Reads a desc written by `saveModelDesc` (YAML or JSON by extension), validating it. */
export async function loadModelDesc(path: string): Promise<ModelDesc> {
  const format = formatOf(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DescError(
      `${path}: cannot read model desc file${code === 'ENOENT' ? ': no such file' : `: ${(e as Error).message}`}`,
      { file: path, cause: e },
    );
  }
  return format === 'yaml' ? modelDescFromYaml(text, path) : modelDescFromJSON(text, path);
}
