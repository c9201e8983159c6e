import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { dartsEvalConf, dartsSearchConf } from './__tests__/fixtures.js';
import { ModelDescBuilder } from './builder.js';
import { DescError } from './errors.js';
import { DARTS_V2, genotypeToTemplate } from './genotypes.js';
import {
  CellType,
  type ConfCell,
  ConvMacroParams,
  EdgeDesc,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from './model-desc.js';
import {
  loadModelDesc,
  modelDescFromJSON,
  modelDescFromObject,
  modelDescFromYaml,
  modelDescToJSON,
  modelDescToObject,
  modelDescToYaml,
  saveModelDesc,
} from './serialize.js';

/** Search-like desc: mixed_op edges from every earlier state, as DARTS builds it. */
class MixedOpBuilder extends ModelDescBuilder {
  override buildNodes(
    stemShapes: TensorShapes,
    confCell: ConfCell,
    cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ) {
    const built = super.buildNodes(stemShapes, confCell, cellIndex, cellType, nodeCount, inShape, outShape);
    const c = inShape[0];
    const nodes = built.nodes.map((n, i) => {
      const edges: EdgeDesc[] = [];
      for (let j = 0; j < i + 2; j++) {
        const stride = cellType === CellType.Reduction && j < 2 ? 2 : 1;
        edges.push(new EdgeDesc(new OpDesc('mixed_op', { stride, conv: new ConvMacroParams(c, c) }, 1), [j]));
      }
      return new NodeDesc(edges, n.convParams);
    });
    return { nodeShapes: built.nodeShapes, nodes };
  }
}

const searchDesc = () => new MixedOpBuilder().build(dartsSearchConf());
const evalDesc = () => {
  const conf = dartsEvalConf();
  return new ModelDescBuilder().build(conf, genotypeToTemplate(DARTS_V2, conf));
};
/** An ImageNet-like desc: fractional stem shapes must survive the text form exactly. */
const imagenetDesc = () =>
  new MixedOpBuilder().build(
    dartsSearchConf({
      n_cells: 5,
      model_stems: { ops: ['stem_conv3x3_s4', 'stem_conv3x3_s4s2'], stem_multiplier: 1, init_node_ch: 12 },
    }),
  );

function errorOf(fn: () => unknown): DescError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DescError);
    expect((e as DescError).exitCode).toBe(2);
    return e as DescError;
  }
  throw new Error('expected a DescError');
}

describe('round trip', () => {
  for (const [name, make] of [
    ['search desc', searchDesc],
    ['DARTS_V2 eval desc', evalDesc],
    ['imagenet-like desc', imagenetDesc],
  ] as const) {
    it(`${name}: YAML`, () => {
      const desc = make();
      const text = modelDescToYaml(desc);
      const loaded = modelDescFromYaml(text, 'desc.yaml');
      expect(loaded).toEqual(desc);
      expect(modelDescFromYaml(modelDescToYaml(loaded))).toEqual(loaded);
      expect(modelDescToYaml(loaded)).toBe(text);
      expect(loaded.cellDescs()[0].nodes()[0].convParams).toBeInstanceOf(ConvMacroParams);
    });

    it(`${name}: JSON`, () => {
      const desc = make();
      const text = modelDescToJSON(desc);
      const loaded = modelDescFromJSON(text, 'desc.json');
      expect(loaded).toEqual(desc);
      expect(modelDescToJSON(loaded)).toBe(text);
      // YAML and JSON hold the same data
      expect(JSON.parse(text)).toEqual(parseYaml(modelDescToYaml(desc)));
    });
  }

  it('writes plain snake_case data with a format header and no tags', () => {
    const text = modelDescToYaml(evalDesc());
    expect(text.startsWith('format: tsnas/model-desc\nversion: 1\n')).toBe(true);
    expect(text).not.toMatch(/!!|!python|&\w|\*\w/);
    const data = parseYaml(text);
    expect(Object.keys(data)).toEqual([
      'format',
      'version',
      'conf_model_desc',
      'model_stems',
      'cells',
      'aux_tower_descs',
      'pool_op',
      'logits_op',
    ]);
    expect(Object.keys(data.cells[0])).toEqual([
      'id',
      'cell_type',
      'trainables_from',
      'conf_cell',
      'stems',
      'stem_shapes',
      'nodes',
      'node_shapes',
      'post_op',
      'out_shape',
    ]);
    expect(data.cells[6].nodes[0].edges[0]).toEqual({
      op_desc: { name: 'max_pool_3x3', params: { conv: { ch_in: 72, ch_out: 72 }, stride: 2 }, in_len: 1 },
      input_ids: [0],
    });
    expect(data.aux_tower_descs[13]).toEqual({ ch_in: 576, n_classes: 10, stride: 3 });
    expect(data.aux_tower_descs[12]).toBeNull();
    // short things stay on one line
    expect(text).toContain('    out_shape: [144, -1, -1, -1]\n');
  });

  it('params are written in sorted key order whatever order a builder set them in', () => {
    const a = new OpDesc('x', { stride: 2, conv: new ConvMacroParams(4, 4) }, 1);
    const b = new OpDesc('x', { conv: new ConvMacroParams(4, 4), stride: 2 }, 1);
    const withOp = (op: OpDesc) => {
      const d = searchDesc();
      d.cellDescs()[0].nodes()[0].edges[0] = new EdgeDesc(op, [0]);
      return modelDescToYaml(d);
    };
    expect(withOp(a)).toBe(withOp(b));
  });

  it('drops trainables by default and keeps them, exactly, on request', () => {
    const desc = evalDesc();
    const w = { shape: [2, 2], data: [0.1, -1e-7, 3.4028234663852886e38, 1 / 3] };
    desc.modelStems[0].trainables = { name: 'stem_conv3x3', weights: { conv: w } };
    expect(modelDescFromYaml(modelDescToYaml(desc)).modelStems[0].trainables).toBeNull();
    const kept = modelDescFromYaml(modelDescToYaml(desc, { trainables: true }));
    expect(kept.modelStems[0].trainables).toEqual({ name: 'stem_conv3x3', weights: { conv: w } });
    expect(modelDescFromJSON(modelDescToJSON(desc, { trainables: true }))).toEqual(desc);
  });

  it('children and children_ins round trip', () => {
    const desc = searchDesc();
    const child = (n: string) => new OpDesc(n, { conv: new ConvMacroParams(16, 16), stride: 1 }, 1);
    const multi = new OpDesc(
      'multi_op',
      { conv: new ConvMacroParams(16, 16) },
      2,
      null,
      [child('a'), child('b')],
      [0, 1],
    );
    desc
      .cellDescs()[0]
      .nodes()[1]
      .edges.push(new EdgeDesc(multi, [0, 2]));
    const loaded = modelDescFromYaml(modelDescToYaml(desc));
    expect(loaded).toEqual(desc);
    expect(loaded.cellDescs()[0].nodes()[1].edges[3].opDesc.children?.[1].name).toBe('b');
  });

  it('saves and loads files by extension, atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'descs-'));
    try {
      const desc = evalDesc();
      for (const f of ['a/final_model_desc.yaml', 'b.yml', 'c.json']) {
        await saveModelDesc(desc, join(dir, f));
        expect(await loadModelDesc(join(dir, f))).toEqual(desc);
      }
      expect(await readFile(join(dir, 'c.json'), 'utf8')).toBe(modelDescToJSON(desc));
      expect((await readdir(dir)).sort()).toEqual(['a', 'b.yml', 'c.json']);
      await expect(saveModelDesc(desc, join(dir, 'd.txt'))).rejects.toThrow(
        /unknown model desc file type '.txt'/,
      );
      await expect(loadModelDesc(join(dir, 'missing.yaml'))).rejects.toThrow(
        /missing.yaml: cannot read model desc file: no such file/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('validation', () => {
  let good: any;
  beforeAll(() => {
    good = modelDescToObject(searchDesc());
  });
  const mutated = (edit: (d: any) => void) => {
    const d = structuredClone(good);
    edit(d);
    return d;
  };

  it.each<[string, (d: any) => void, string, RegExp]>([
    [
      'in_len does not match input ids',
      (d) => {
        d.cells[3].nodes[1].edges[0].input_ids = [0, 1];
      },
      'cells[3].nodes[1].edges[0].input_ids',
      /op 'mixed_op' has in_len 1 but 2 input ids \[0, 1\]/,
    ],
    [
      'input id refers to a later state',
      (d) => {
        d.cells[3].nodes[1].edges[0].input_ids = [3];
      },
      'cells[3].nodes[1].edges[0].input_ids[0]',
      /input id 3 does not exist: node 1 can read states 0..2/,
    ],
    [
      'duplicate cell id',
      (d) => {
        d.cells[5].id = 3;
      },
      'cells[5].id',
      /duplicate cell id 3 \(also cells\[3\].id\)/,
    ],
    [
      'one stem in a cell',
      (d) => {
        d.cells[2].stems.pop();
        d.cells[2].stem_shapes.pop();
      },
      'cells[2].stems',
      /expected exactly 2 stems \(for s0 and s1\), got 1/,
    ],
    [
      'unknown cell type',
      (d) => {
        d.cells[0].cell_type = 'normal';
      },
      'cells[0].cell_type',
      /unknown cell type 'normal'; expected one of 'regular', 'reduction'/,
    ],
    [
      'wrong value type',
      (d) => {
        d.cells[1].nodes[0].conv_params.ch_in = 'sixteen';
      },
      'cells[1].nodes[0].conv_params.ch_in',
      /expected a number, got string "sixteen"/,
    ],
    [
      'missing key',
      (d) => {
        delete d.cells[4].post_op;
      },
      'cells[4].post_op',
      /missing; expected a mapping/,
    ],
    [
      'unknown key',
      (d) => {
        d.cells[4].nodez = [];
      },
      'cells[4]',
      /unknown key 'nodez'/,
    ],
    [
      'aux tower list of the wrong length',
      (d) => {
        d.aux_tower_descs.pop();
      },
      'aux_tower_descs',
      /expected one entry \(or null\) per cell, 8, got 7/,
    ],
    [
      'trainables_from pointing at a cell of the other type',
      (d) => {
        d.cells[5].trainables_from = 0;
      },
      'cells[5].trainables_from',
      /a reduction cell cannot share arch params with cells\[0\], a regular cell/,
    ],
    [
      'three model stems',
      (d) => {
        d.model_stems.push(d.model_stems[0]);
      },
      'model_stems',
      /expected 1 stem \(shared by s0 and s1\) or 2, got 3/,
    ],
    [
      'not a tsnas desc',
      (d) => {
        d.format = undefined;
      },
      'format',
      /expected 'tsnas\/model-desc', got nothing; this is not a tsnas model desc/,
    ],
    [
      'a newer version',
      (d) => {
        d.version = 2;
      },
      'version',
      /reads version 1, got number 2/,
    ],
  ])('%s', (_name, edit, path, message) => {
    const bad = mutated(edit);
    const e = errorOf(() => modelDescFromObject(bad, 'x/desc.yaml'));
    expect(e.path).toBe(path);
    expect(e.file).toBe('x/desc.yaml');
    expect(e.message).toContain(`x/desc.yaml: ${path}: `);
    expect(e.message).toMatch(message);
    // The same problem read from text is reported the same way (YAML adds line:col).
    const y = errorOf(() => modelDescFromYaml(JSON.stringify(bad), 'x/desc.yaml'));
    expect(y.message).toMatch(new RegExp(`^x/desc\\.yaml:\\d+:\\d+: ${path.replace(/[[\].]/g, '\\$&')}: `));
    const j = errorOf(() => modelDescFromJSON(JSON.stringify(bad), 'x/desc.json'));
    expect(j.path).toBe(path);
  });

  it('YAML errors point at the line of the offending value', () => {
    const text = modelDescToYaml(searchDesc()).replace('cell_type: reduction', 'cell_type: reduktion');
    const e = errorOf(() => modelDescFromYaml(text, 'f.yaml'));
    const line = text.split('\n').findIndex((l) => l.includes('reduktion')) + 1;
    expect(e.message).toMatch(
      new RegExp(`^f\\.yaml:${line}:\\d+: cells\\[2\\]\\.cell_type: unknown cell type 'reduktion'`),
    );
  });

  it('lists several problems at once', () => {
    const bad = mutated((d) => {
      d.cells[1].id = 0;
      d.cells[2].cell_type = 'x';
    });
    const e = errorOf(() => modelDescFromObject(bad));
    expect(e.message).toMatch(
      /invalid model desc:\n {2}.*cells\[1\]\.id: duplicate[^\n]*\n {2}.*cells\[2\]\.cell_type/,
    );
  });

  it('malformed YAML and JSON, python tags, non-mappings', () => {
    expect(errorOf(() => modelDescFromYaml('format: [a\nb: c', 'm.yaml')).message).toMatch(
      /^m\.yaml:\d+:\d+: malformed YAML/,
    );
    expect(errorOf(() => modelDescFromYaml('a: 1\na: 2', 'dup.yaml')).message).toMatch(
      /^dup\.yaml:2:1: malformed YAML: .*unique/i,
    );
    expect(errorOf(() => modelDescFromJSON('{"format": ', 'm.json')).message).toMatch(
      /^m\.json: malformed JSON/,
    );
    // A python object at the root goes to the Archai reader (archai.test.ts), which names the field.
    const archai = '!!python/object:archai.nas.model_desc.ModelDesc\ncell_descs: []\n';
    expect(errorOf(() => modelDescFromYaml(archai, 'old.yaml')).message).toMatch(
      /^old\.yaml:2:1: \(document root\): ModelDesc has no field "cell_descs"/,
    );
    const tagged = 'format: tsnas/model-desc\nversion: 1\nconf_model_desc: !!python/object:x.Y {}\n';
    expect(errorOf(() => modelDescFromYaml(tagged, 'm.yaml')).message).toMatch(
      /^m\.yaml:3:18: unsupported YAML tag .*python.*a tsnas model desc is plain YAML/,
    );
    expect(errorOf(() => modelDescFromYaml('- 1\n- 2\n', 'l.yaml')).message).toMatch(/expected a mapping/);
  });

  afterAll(() => {
    good = undefined;
  });
});

describe('files with problems', () => {
  it('reports the file name from loadModelDesc', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'descs-'));
    try {
      const text = modelDescToYaml(searchDesc()).replace('input_ids: [4]', 'input_ids: [9]');
      await writeFile(join(dir, 'bad.yaml'), text);
      await expect(loadModelDesc(join(dir, 'bad.yaml'))).rejects.toThrow(
        /bad\.yaml:\d+:\d+: cells\[0\]\.nodes\[3\]\.edges\[4\]\.input_ids\[0\]: input id 9 does not exist/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
