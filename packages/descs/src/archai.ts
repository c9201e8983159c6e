// Archai's own desc files (`final_model_desc.yaml`, `full_model_desc.yaml`): PyYAML dumps of python
// objects. They are read with a schema of the tags Archai's desc classes produce and nothing else:
// a tag names a class, and only the classes below are mapped (onto plain data, then validated like
// a tsnas desc file). No tag ever constructs or calls anything.
import {
  type Alias,
  Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node,
  Scalar,
  type Tags,
  YAMLMap,
  YAMLSeq,
} from 'yaml';
import { DescError, formatPath } from './errors.js';
import { parseDescYaml } from './internal/yaml-doc.js';
import {
  type AuxTowerDescPlain,
  type CellDescPlain,
  DESC_FORMAT,
  DESC_VERSION,
  type ModelDescPlain,
  type NodeDescPlain,
  type OpDescPlain,
} from './internal/desc-schema.js';
import { CellType, type ModelDesc } from './model-desc.js';

/** The module of the desc classes in Archai HEAD; written by `modelDescToArchaiYaml`. */
export const ARCHAI_DESC_MODULE = 'archai.supergraph.nas.model_desc';
/** Archai <= 0.6 (`archai.nas.model_desc`, e.g. the files in its confs/darts_models/) is read too. */
const DESC_MODULES = [ARCHAI_DESC_MODULE, 'archai.nas.model_desc'];
const CONFIG_CLASS = 'archai.common.config.Config';

const YAML_TAG_PREFIX = 'tag:yaml.org,2002:';
const OBJECT = `${YAML_TAG_PREFIX}python/object:`;
const APPLY = `${YAML_TAG_PREFIX}python/object/apply:`;
const NAME = `${YAML_TAG_PREFIX}python/name:`;
const TUPLE = `${YAML_TAG_PREFIX}python/tuple`;
const GETATTR = `${APPLY}builtins.getattr`;

type ArchaiClass =
  | 'ModelDesc'
  | 'CellDesc'
  | 'NodeDesc'
  | 'EdgeDesc'
  | 'OpDesc'
  | 'ConvMacroParams'
  | 'AuxTowerDesc';
const CLASSES: ArchaiClass[] = [
  'ModelDesc',
  'CellDesc',
  'NodeDesc',
  'EdgeDesc',
  'OpDesc',
  'ConvMacroParams',
  'AuxTowerDesc',
];

/**
 * The instance fields (`__dict__`) of each class, as PyYAML dumps them; `true` marks the ones a
 * file must have. ModelDesc's ds_ch, n_classes, params and max_final_edges are copies of
 * conf_model_desc values (its constructor sets them from the conf), so they are read from there.
 */
const FIELDS: Record<ArchaiClass | 'Config', Record<string, boolean>> = {
  ModelDesc: {
    conf_model_desc: true,
    ds_ch: false,
    n_classes: false,
    params: false,
    max_final_edges: false,
    model_stems: true,
    pool_op: true,
    logits_op: true,
    _cell_descs: true,
    aux_tower_descs: true,
  },
  CellDesc: {
    cell_type: true,
    id: true,
    conf_cell: true,
    stems: true,
    stem_shapes: true,
    out_shape: true,
    trainables_from: true,
    _nodes: true,
    node_shapes: true,
    post_op: true,
  },
  NodeDesc: { edges: true, conv_params: true },
  EdgeDesc: { op_desc: true, input_ids: true },
  OpDesc: { name: true, in_len: true, params: true, trainables: false, children: false, children_ins: false },
  ConvMacroParams: { ch_in: true, ch_out: true },
  AuxTowerDesc: { ch_in: true, n_classes: true, stride: true },
  // A UserDict: `data` is the section; the rest is the loader's bookkeeping (None / [] in descs).
  Config: { data: true, args: false, config_filepath: false, extra_args: false },
};

/** The tags the reader knows; any other tag is reported by name and line. */
function archaiTags(): Tags {
  const tags: Tags = [];
  for (const mod of DESC_MODULES) {
    for (const cls of CLASSES)
      tags.push({ tag: `${OBJECT}${mod}.${cls}`, collection: 'map', default: false });
    tags.push({ tag: `${NAME}${mod}.CellType`, resolve: (s: string) => s, default: false });
    tags.push({ tag: `${APPLY}${mod}.CellType`, collection: 'seq', default: false });
  }
  tags.push({ tag: `${OBJECT}${CONFIG_CLASS}`, collection: 'map', default: false });
  // Python >= 3.12 pickles an enum member as getattr(Class, 'Member'); only that use is accepted.
  tags.push({ tag: GETATTR, collection: 'seq', default: false });
  tags.push({ tag: TUPLE, collection: 'seq', default: false });
  return tags;
}

/** `tag:yaml.org,2002:python/object:x.Y` as written in the file: `!!python/object:x.Y`. */
function shortTag(tag: string): string {
  return tag.startsWith(YAML_TAG_PREFIX) ? `!!${tag.slice(YAML_TAG_PREFIX.length)}` : tag;
}

/**
 * True when a YAML text's document root carries a PyYAML python tag (`!!python/object:...`), i.e.
 * it is an Archai desc (or something else Python wrote, which the reader then reports by tag).
 */
export function isArchaiDescYaml(text: string): boolean {
  const lines = text.replace(/^\uFEFF/, '').split('\n', 200);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('%')) continue;
    const body = line.startsWith('---') ? line.slice(3).trim() : line;
    if (body === '') continue;
    // An anchor may come before the tag (`&id001 !!python/...`).
    const afterAnchor = body.replace(/^&\S+\s+/, '');
    return afterAnchor.startsWith('!!python/') || afterAnchor.startsWith(`!<${YAML_TAG_PREFIX}python/`);
  }
  return false;
}

type Path = (string | number)[];

// Aliases are expanded into copies; a small file of nested aliases can still expand exponentially.
// A 20-cell evaluation desc has about 15,000 values.
const MAX_VALUES = 100_000;
const MAX_DEPTH = 256;

class ArchaiReader {
  private values = 0;
  private readonly active = new Set<Node>();
  // Alias.resolve searches the document for the anchor; once per alias is enough.
  private readonly aliasTargets = new Map<Alias, Node | undefined>();
  /** tsnas path (formatted) -> the Archai node it was read from, to point validation errors at lines. */
  readonly origins = new Map<string, Node>();

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
    private readonly name: string,
    private readonly file: string | undefined,
  ) {}

  pos(node: Node | undefined): string | undefined {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = this.lineCounter.linePos(offset);
    return `${line}:${col}`;
  }

  fail(node: Node | undefined, path: Path, message: string): never {
    const at = this.pos(node);
    throw new DescError(`${this.name}${at ? `:${at}` : ''}: ${formatPath(path)}: ${message}`, {
      file: this.file,
      path: formatPath(path),
    });
  }

  /** Follows an alias to its anchored node (guarding against aliases that contain themselves). */
  private deref(node: unknown, path: Path): Node | null {
    if (node === null || node === undefined) return null;
    if (++this.values > MAX_VALUES) {
      this.fail(node as Node, path, `more than ${MAX_VALUES} values after expanding aliases`);
    }
    if (path.length > MAX_DEPTH) this.fail(node as Node, path, `nested deeper than ${MAX_DEPTH} levels`);
    if (isAlias(node)) {
      const alias = node as Alias;
      if (!this.aliasTargets.has(alias)) this.aliasTargets.set(alias, alias.resolve(this.doc));
      const target = this.aliasTargets.get(alias);
      if (!target) this.fail(node as Node, path, `alias *${(node as Alias).source} has no anchor before it`);
      if (this.active.has(target)) {
        this.fail(node as Node, path, `alias *${(node as Alias).source} refers to a value that contains it`);
      }
      return target;
    }
    return node as Node;
  }

  private withActive<T>(node: Node, read: () => T): T {
    this.active.add(node);
    try {
      return read();
    } finally {
      this.active.delete(node);
    }
  }

  private describe(node: Node | null): string {
    if (node === null) return 'null';
    if (node.tag?.startsWith(`${YAML_TAG_PREFIX}python/`)) return shortTag(node.tag);
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) return JSON.stringify(node.value) ?? String(node.value);
    return 'an unknown value';
  }

  private record(path: Path, node: Node): void {
    this.origins.set(formatPath(path), node);
  }

  /** The fields of a `!!python/object:<module>.<cls>` mapping, checked against the class. */
  private object(raw: unknown, cls: ArchaiClass | 'Config', path: Path): Map<string, Node | null> {
    const node = this.deref(raw, path);
    const tags =
      cls === 'Config' ? [`${OBJECT}${CONFIG_CLASS}`] : DESC_MODULES.map((mod) => `${OBJECT}${mod}.${cls}`);
    if (!node || !isMap(node) || !node.tag || !tags.includes(node.tag)) {
      this.fail(
        node ?? (raw as Node),
        path,
        `expected !!python/object:...${cls}, got ${this.describe(node)}`,
      );
    }
    this.record(path, node);
    const fields = new Map<string, Node | null>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string' || !(key in FIELDS[cls])) {
        this.fail(
          (pair.key as Node) ?? node,
          path,
          `${cls} has no field ${JSON.stringify(key ?? null)}; expected ${Object.keys(FIELDS[cls]).join(', ')}`,
        );
      }
      fields.set(key, (pair.value as Node | null) ?? null);
    }
    for (const [field, required] of Object.entries(FIELDS[cls])) {
      if (required && !fields.has(field)) this.fail(node, path, `${cls} is missing its field '${field}'`);
    }
    return fields;
  }

  /** Plain YAML data (numbers, strings, lists, mappings, tuples); Config sections become mappings. */
  plain(raw: unknown, path: Path, allowConv = false): unknown {
    const node = this.deref(raw, path);
    if (node === null) return null;
    this.record(path, node);
    return this.withActive(node, () => {
      if (isScalar(node)) {
        if (node.tag?.startsWith(`${YAML_TAG_PREFIX}python/`)) {
          this.fail(node, path, `expected plain data, got ${this.describe(node)}`);
        }
        return node.value;
      }
      if (isSeq(node)) {
        if (node.tag && node.tag !== TUPLE && node.tag !== `${YAML_TAG_PREFIX}seq`) {
          this.fail(node, path, `expected plain data, got ${this.describe(node)}`);
        }
        return node.items.map((item, i) => this.plain(item, [...path, i]));
      }
      if (isMap(node)) {
        if (node.tag === `${OBJECT}${CONFIG_CLASS}`) return this.config(node, path);
        if (allowConv && DESC_MODULES.some((m) => node.tag === `${OBJECT}${m}.ConvMacroParams`)) {
          return this.conv(node, path);
        }
        if (node.tag && node.tag !== `${YAML_TAG_PREFIX}map`) {
          this.fail(node, path, `expected plain data, got ${this.describe(node)}`);
        }
        const out: Record<string, unknown> = {};
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof key !== 'string' && typeof key !== 'number') {
            this.fail((pair.key as Node) ?? node, path, 'expected a string or number key');
          }
          out[String(key)] = this.plain(pair.value, [...path, String(key)]);
        }
        return out;
      }
      return this.fail(node, path, `expected plain data, got ${this.describe(node)}`);
    });
  }

  /** A Config's `data` section as a mapping (nested Configs too). */
  private config(raw: unknown, path: Path): Record<string, unknown> {
    const fields = this.object(raw, 'Config', path);
    const data = fields.get('data') ?? null;
    const node = this.deref(data, path);
    if (node === null) return {};
    if (!isMap(node) || (node.tag && node.tag !== `${YAML_TAG_PREFIX}map`)) {
      this.fail(node, [...path, 'data'], `expected the section as a mapping, got ${this.describe(node)}`);
    }
    return this.plain(node, path) as Record<string, unknown>;
  }

  private int(raw: unknown, path: Path): number {
    const node = this.deref(raw, path);
    if (!node || !isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
      this.fail(node ?? undefined, path, `expected an integer, got ${this.describe(node)}`);
    }
    this.record(path, node);
    return node.value as number;
  }

  private intList(raw: unknown, path: Path): number[] {
    const node = this.deref(raw, path);
    if (!node || !isSeq(node))
      this.fail(node ?? undefined, path, `expected a list, got ${this.describe(node)}`);
    this.record(path, node);
    return node.items.map((item, i) => this.int(item, [...path, i]));
  }

  private list<T>(raw: unknown, path: Path, read: (item: unknown, path: Path) => T): T[] {
    const node = this.deref(raw, path);
    if (!node || !isSeq(node) || (node.tag && node.tag !== `${YAML_TAG_PREFIX}seq`)) {
      this.fail(node ?? undefined, path, `expected a list, got ${this.describe(node)}`);
    }
    this.record(path, node);
    return this.withActive(node, () => node.items.map((item, i) => read(item, [...path, i])));
  }

  private shapes(raw: unknown, path: Path): number[][] {
    return this.list(raw, path, (item, p) => this.shape(item, p));
  }

  private shape(raw: unknown, path: Path): number[] {
    const value = this.plain(raw, path);
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'number')) {
      this.fail(this.deref(raw, path) ?? undefined, path, 'expected a tensor shape (a list of numbers)');
    }
    return value as number[];
  }

  private conv(raw: unknown, path: Path): { ch_in: number; ch_out: number } {
    const f = this.object(raw, 'ConvMacroParams', path);
    return {
      ch_in: this.int(f.get('ch_in'), [...path, 'ch_in']),
      ch_out: this.int(f.get('ch_out'), [...path, 'ch_out']),
    };
  }

  op(raw: unknown, path: Path): OpDescPlain {
    const node = this.deref(raw, path);
    return this.withActive(node as Node, () => {
      const f = this.object(node, 'OpDesc', path);
      const nameNode = this.deref(f.get('name'), [...path, 'name']);
      if (!nameNode || !isScalar(nameNode) || typeof nameNode.value !== 'string') {
        this.fail(
          nameNode ?? node ?? undefined,
          [...path, 'name'],
          `expected an op name, got ${this.describe(nameNode)}`,
        );
      }
      const paramsNode = this.deref(f.get('params'), [...path, 'params']);
      const params: Record<string, unknown> = {};
      if (paramsNode !== null) {
        if (!isMap(paramsNode) || (paramsNode.tag && paramsNode.tag !== `${YAML_TAG_PREFIX}map`)) {
          this.fail(paramsNode, [...path, 'params'], `expected a mapping, got ${this.describe(paramsNode)}`);
        }
        this.record([...path, 'params'], paramsNode);
        for (const pair of paramsNode.items) {
          const key = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof key !== 'string')
            this.fail((pair.key as Node) ?? paramsNode, [...path, 'params'], 'expected a string key');
          // ConvMacroParams is the one object an op's params hold (as `conv`, reference §3).
          params[key] = this.plain(pair.value, [...path, 'params', key], key === 'conv');
        }
      }
      const trainables = this.deref(f.get('trainables') ?? null, [...path, 'trainables']);
      if (trainables !== null && !(isScalar(trainables) && trainables.value === null)) {
        this.fail(
          trainables,
          [...path, 'trainables'],
          'an Archai desc with trainables (torch state dicts) cannot be read; Archai saves descs without them',
        );
      }
      const out: OpDescPlain = {
        name: nameNode.value as string,
        params,
        in_len: this.int(f.get('in_len'), [...path, 'in_len']),
      };
      const children = this.deref(f.get('children') ?? null, [...path, 'children']);
      if (children !== null && !(isScalar(children) && children.value === null)) {
        out.children = this.list(children, [...path, 'children'], (c, p) => this.op(c, p));
      }
      const childrenIns = this.deref(f.get('children_ins') ?? null, [...path, 'children_ins']);
      if (childrenIns !== null && !(isScalar(childrenIns) && childrenIns.value === null)) {
        out.children_ins = this.intList(childrenIns, [...path, 'children_ins']);
      }
      return out;
    });
  }

  private cellType(raw: unknown, path: Path): string {
    const node = this.deref(raw, path);
    const bad = (): never =>
      this.fail(
        node ?? undefined,
        path,
        `expected a CellType (!!python/object/apply:builtins.getattr [CellType, Regular|Reduction] or !!python/object/apply:...CellType [regular|reduction]), got ${this.describe(node)}`,
      );
    if (!node || !isSeq(node)) return bad();
    this.record(path, node);
    const args = node.items.map((item, i) => this.deref(item, [...path, i]));
    const str = (n: Node | null): string | undefined =>
      n && isScalar(n) && typeof n.value === 'string' ? n.value : undefined;
    if (node.tag === GETATTR) {
      // getattr(CellType, 'Regular'): the first argument must name the CellType class itself.
      const cls = args[0];
      const member = str(args[1] ?? null);
      if (
        args.length !== 2 ||
        !cls ||
        !isScalar(cls) ||
        !DESC_MODULES.some((m) => cls.tag === `${NAME}${m}.CellType`)
      ) {
        return bad();
      }
      if (member === 'Regular') return CellType.Regular;
      if (member === 'Reduction') return CellType.Reduction;
      return this.fail(
        args[1] ?? node,
        [...path, 1],
        `unknown CellType member ${JSON.stringify(member ?? null)}; expected Regular or Reduction`,
      );
    }
    if (DESC_MODULES.some((m) => node.tag === `${APPLY}${m}.CellType`)) {
      // CellType('regular'): called with the member's value.
      const value = str(args[0] ?? null);
      if (args.length !== 1) return bad();
      if (value === CellType.Regular || value === CellType.Reduction) return value;
      return this.fail(
        args[0] ?? node,
        [...path, 0],
        `unknown CellType value ${JSON.stringify(value ?? null)}; expected regular or reduction`,
      );
    }
    return bad();
  }

  private node(raw: unknown, path: Path): NodeDescPlain {
    const f = this.object(raw, 'NodeDesc', path);
    return {
      conv_params: this.conv(f.get('conv_params'), [...path, 'conv_params']),
      edges: this.list(f.get('edges'), [...path, 'edges'], (e, p) => {
        const ef = this.object(e, 'EdgeDesc', p);
        return {
          op_desc: this.op(ef.get('op_desc'), [...p, 'op_desc']),
          input_ids: this.intList(ef.get('input_ids'), [...p, 'input_ids']),
        };
      }),
    };
  }

  private cell(raw: unknown, path: Path): CellDescPlain {
    const f = this.object(raw, 'CellDesc', path);
    const confCell = this.plain(f.get('conf_cell'), [...path, 'conf_cell']);
    if (confCell === null || typeof confCell !== 'object' || Array.isArray(confCell)) {
      this.fail(
        this.deref(f.get('conf_cell'), path) ?? undefined,
        [...path, 'conf_cell'],
        'expected a Config section',
      );
    }
    return {
      id: this.int(f.get('id'), [...path, 'id']),
      cell_type: this.cellType(f.get('cell_type'), [...path, 'cell_type']),
      trainables_from: this.int(f.get('trainables_from'), [...path, 'trainables_from']),
      conf_cell: confCell as Record<string, unknown>,
      stems: this.list(f.get('stems'), [...path, 'stems'], (s, p) => this.op(s, p)),
      stem_shapes: this.shapes(f.get('stem_shapes'), [...path, 'stem_shapes']),
      nodes: this.list(f.get('_nodes'), [...path, 'nodes'], (n, p) => this.node(n, p)),
      node_shapes: this.shapes(f.get('node_shapes'), [...path, 'node_shapes']),
      post_op: this.op(f.get('post_op'), [...path, 'post_op']),
      out_shape: this.shape(f.get('out_shape'), [...path, 'out_shape']),
    };
  }

  private aux(raw: unknown, path: Path): AuxTowerDescPlain | null {
    const node = this.deref(raw, path);
    if (node === null || (isScalar(node) && node.value === null)) return null;
    const f = this.object(node, 'AuxTowerDesc', path);
    return {
      ch_in: this.int(f.get('ch_in'), [...path, 'ch_in']),
      n_classes: this.int(f.get('n_classes'), [...path, 'n_classes']),
      stride: this.int(f.get('stride'), [...path, 'stride']),
    };
  }

  modelDesc(raw: unknown): ModelDescPlain {
    const f = this.object(raw, 'ModelDesc', []);
    const conf = this.plain(f.get('conf_model_desc'), ['conf_model_desc']);
    if (conf === null || typeof conf !== 'object' || Array.isArray(conf)) {
      this.fail(
        this.deref(f.get('conf_model_desc'), []) ?? undefined,
        ['conf_model_desc'],
        'expected a Config section',
      );
    }
    return {
      format: DESC_FORMAT,
      version: DESC_VERSION,
      conf_model_desc: conf as Record<string, unknown>,
      model_stems: this.list(f.get('model_stems'), ['model_stems'], (s, p) => this.op(s, p)),
      cells: this.list(f.get('_cell_descs'), ['cells'], (c, p) => this.cell(c, p)),
      aux_tower_descs: this.list(f.get('aux_tower_descs'), ['aux_tower_descs'], (a, p) => this.aux(a, p)),
      pool_op: this.op(f.get('pool_op'), ['pool_op']),
      logits_op: this.op(f.get('logits_op'), ['logits_op']),
    };
  }
}

/**
 * An Archai desc file's text (PyYAML python objects, Archai HEAD or <= 0.6 module names) as our
 * plain desc data, with a locator from a path in it to the line and column of the Archai file.
 * serialize.ts's `modelDescFromArchaiYaml` validates it into a ModelDesc.
 */
export function archaiYamlToPlain(
  text: string,
  file?: string,
): { plain: unknown; locate: (path: (string | number)[]) => string | undefined } {
  const name = file ?? '<archai yaml>';
  const { doc, lineCounter, pos } = parseDescYaml(text, name, file, {
    // PyYAML writes YAML 1.1 (and quotes the strings that 1.1 would read as booleans).
    version: '1.1',
    customTags: archaiTags(),
  });
  const unknown = doc.warnings.find(
    (w) => w.code === 'TAG_RESOLVE_FAILED' || w.code === 'BAD_COLLECTION_TYPE',
  );
  if (unknown) {
    const tag = /(tag:\S+|![^\s,]*)/.exec(unknown.message)?.[1];
    throw new DescError(
      `${name}:${pos(unknown.pos[0])}: unknown YAML tag ${tag ? `'${shortTag(tag)}'` : `(${unknown.message})`}; an Archai desc may only hold ModelDesc, CellDesc, NodeDesc, EdgeDesc, OpDesc, ConvMacroParams, AuxTowerDesc, CellType and Config objects`,
      { file },
    );
  }
  const reader = new ArchaiReader(doc, lineCounter, name, file);
  const plain = reader.modelDesc(doc.contents);
  const locate = (path: (string | number)[]): string | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = reader.origins.get(formatPath(path.slice(0, n)));
      if (node) return reader.pos(node);
    }
    return undefined;
  };
  return { plain, locate };
}

// ---------------------------------------------------------------------------------------------
// ModelDesc -> Archai YAML

export interface ArchaiYamlOptions {
  /** The module of the desc classes; default Archai HEAD's `archai.supergraph.nas.model_desc`. */
  module?: string;
}

/**
 * A desc (and its plain data, from serialize.ts's `modelDescToObject`) as Archai's
 * `ModelDesc.save` writes it: a PyYAML python-object document that
 * `archai.supergraph.nas.model_desc.ModelDesc.load` reads (keys sorted as yaml.dump sorts them;
 * enum members as getattr(CellType, 'Regular'); conf sections as Config objects).
 */
export function archaiYamlFromPlain(
  desc: ModelDesc,
  plain: ModelDescPlain,
  opts: ArchaiYamlOptions = {},
): string {
  const mod = opts.module ?? ARCHAI_DESC_MODULE;
  const doc = new Document<Node>(null, { version: '1.1' });

  const value = (v: unknown): Node => doc.createNode(v) as Node;
  const object = (tag: string, fields: Record<string, unknown>): YAMLMap => {
    const map = new YAMLMap();
    map.tag = tag;
    for (const key of Object.keys(fields).sort()) {
      const v = fields[key];
      map.add(
        doc.createPair(
          key,
          v instanceof YAMLMap || v instanceof YAMLSeq || v instanceof Scalar ? v : value(v),
        ),
      );
    }
    return map;
  };
  const seq = (items: Node[], tag?: string): YAMLSeq => {
    const s = new YAMLSeq();
    if (tag) s.tag = tag;
    s.items = items;
    return s;
  };
  // Archai's conf sections are Config objects all the way down (deep_update builds one per mapping).
  const config = (section: Record<string, unknown>): YAMLMap => {
    const data: Record<string, unknown> = {};
    for (const key of Object.keys(section).sort()) {
      const v = section[key];
      data[key] =
        v !== null && typeof v === 'object' && !Array.isArray(v) ? config(v as Record<string, unknown>) : v;
    }
    const dataMap = new YAMLMap();
    for (const key of Object.keys(data)) {
      const v = data[key];
      dataMap.add(doc.createPair(key, v instanceof YAMLMap ? v : value(v)));
    }
    return object(`${OBJECT}${CONFIG_CLASS}`, {
      args: null,
      config_filepath: null,
      data: dataMap,
      extra_args: [],
    });
  };
  const conv = (c: { ch_in: number; ch_out: number }): YAMLMap =>
    object(`${OBJECT}${mod}.ConvMacroParams`, { ch_in: c.ch_in, ch_out: c.ch_out });
  const op = (o: OpDescPlain): YAMLMap => {
    const params = new YAMLMap();
    for (const key of Object.keys(o.params).sort()) {
      const v = o.params[key];
      params.add(
        doc.createPair(key, key === 'conv' ? conv(v as { ch_in: number; ch_out: number }) : value(v)),
      );
    }
    return object(`${OBJECT}${mod}.OpDesc`, {
      children: o.children ? seq(o.children.map(op)) : null,
      children_ins: o.children_ins ?? null,
      in_len: o.in_len,
      name: o.name,
      params,
      trainables: null,
    });
  };
  const cellType = (t: string): YAMLSeq => {
    const cls = new Scalar('');
    cls.tag = `${NAME}${mod}.CellType`;
    const member = t === CellType.Reduction ? 'Reduction' : 'Regular';
    return seq([cls, value(member)], GETATTR);
  };

  const confModelDesc = plain.conf_model_desc as ModelDescPlain['conf_model_desc'] & {
    dataset: { channels: number; n_classes: number };
    params?: Record<string, unknown>;
    max_final_edges: number;
  };
  const root = object(`${OBJECT}${mod}.ModelDesc`, {
    _cell_descs: seq(
      plain.cells.map((c) =>
        object(`${OBJECT}${mod}.CellDesc`, {
          _nodes: seq(
            c.nodes.map((n) =>
              object(`${OBJECT}${mod}.NodeDesc`, {
                conv_params: conv(n.conv_params),
                edges: seq(
                  n.edges.map((e) =>
                    object(`${OBJECT}${mod}.EdgeDesc`, { input_ids: e.input_ids, op_desc: op(e.op_desc) }),
                  ),
                ),
              }),
            ),
          ),
          cell_type: cellType(c.cell_type),
          conf_cell: config(c.conf_cell),
          id: c.id,
          node_shapes: c.node_shapes,
          out_shape: c.out_shape,
          post_op: op(c.post_op),
          stem_shapes: c.stem_shapes,
          stems: seq(c.stems.map(op)),
          trainables_from: c.trainables_from,
        }),
      ),
    ),
    aux_tower_descs: seq(
      plain.aux_tower_descs.map((a) =>
        a
          ? object(`${OBJECT}${mod}.AuxTowerDesc`, {
              ch_in: a.ch_in,
              n_classes: a.n_classes,
              stride: a.stride,
            })
          : value(null),
      ),
    ),
    conf_model_desc: config(confModelDesc),
    // Copies of conf values that Archai's ModelDesc constructor makes; written so the file looks
    // like one Archai saved.
    ds_ch: desc.dsCh,
    logits_op: op(plain.logits_op),
    max_final_edges: desc.maxFinalEdges,
    model_stems: seq(plain.model_stems.map(op)),
    n_classes: desc.nClasses,
    params: desc.params,
    pool_op: op(plain.pool_op),
  });
  doc.contents = root;
  // PyYAML's layout: lists at their key's indent, single quotes.
  return doc.toString({ lineWidth: 0, indentSeq: false, singleQuote: true });
}
