import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ARCHAI_DESC_MODULE, isArchaiDescYaml } from './archai.js';
import { dartsEvalConf, dartsSearchConf } from './__tests__/fixtures.js';
import { ModelDescBuilder } from './builder.js';
import { DescError } from './errors.js';
import { genotypeToString, genotypeToTemplate, modelDescToGenotype, parseGenotype } from './genotypes.js';
import { CellType, ConvMacroParams } from './model-desc.js';
import {
  loadModelDesc,
  modelDescFromArchaiYaml,
  modelDescFromYaml,
  modelDescToArchaiYaml,
  modelDescToObject,
  modelDescToYaml,
} from './serialize.js';

// Written by __tests__/fixtures/archai/generate.py: yaml.dump of stand-ins for Archai's classes.
const FIXTURES = fileURLToPath(new URL('./__tests__/fixtures/archai/', import.meta.url));
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const SEARCH = 'darts_search_final_model_desc.yaml';
const TOY_LEGACY = 'toy_legacy_final_model_desc.yaml';
const TOY_EVAL = 'toy_eval_full_model_desc.yaml';

// generate.py's SEARCH_GENOTYPE and TOY_GENOTYPE.
const SEARCH_GENOTYPE =
  "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('skip_connect', 0), ('dil_conv_3x3', 2), ('sep_conv_3x3', 1), ('skip_connect', 0), ('dil_conv_5x5', 3)], normal_concat=[2, 3, 4, 5], " +
  "reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('dil_conv_5x5', 2), ('skip_connect', 2), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])";
const TOY_GENOTYPE =
  "Genotype(normal=[('sep_conv_3x3', 0), ('skip_connect', 1), ('avg_pool_3x3', 2), ('sep_conv_5x5', 0)], normal_concat=[2, 3], " +
  "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('dil_conv_3x3', 2), ('skip_connect', 0)], reduce_concat=[2, 3])";

/** The line (1-based) of the n-th occurrence of `needle` in `text`. */
function lineOf(text: string, needle: string, nth = 1): number {
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`'${needle}' occurs fewer than ${nth} times`);
  }
  return text.slice(0, at).split('\n').length;
}

function thrown(f: () => unknown): DescError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DescError);
    return e as DescError;
  }
  throw new Error('expected a DescError');
}

describe('reading Archai desc files', () => {
  it("loads a DARTS search's final_model_desc.yaml (HEAD module, getattr enum, aliases) and gives its genotype", () => {
    const text = fixture(SEARCH);
    // The fixture really uses the forms under test.
    expect(text).toContain('!!python/object/apply:builtins.getattr');
    expect(text).toMatch(/- &id\d+ !!python\/name:archai\.supergraph\.nas\.model_desc\.CellType ''/);
    expect(text).toMatch(/conv_params: \*id\d+/);
    expect(text).toMatch(/conf_cell: \*id\d+/);

    const desc = modelDescFromArchaiYaml(text, SEARCH);
    const cells = desc.cellDescs();
    expect(cells).toHaveLength(8);
    expect(cells.map((c) => c.cellType === CellType.Reduction)).toEqual([
      false,
      false,
      true,
      false,
      false,
      true,
      false,
      false,
    ]);
    expect(cells.map((c) => c.trainablesFrom)).toEqual([0, 0, 2, 0, 0, 2, 0, 0]);
    expect(genotypeToString(modelDescToGenotype(desc))).toBe(SEARCH_GENOTYPE);

    // Archai's op names and params are kept: a reduction edge from s1 has stride 2 at 32 channels.
    const edge = cells[2].nodes()[0].edges[1];
    expect(edge.opDesc.name).toBe('avg_pool_3x3');
    expect(edge.inputIds).toEqual([1]);
    expect(edge.opDesc.params.stride).toBe(2);
    expect(edge.opDesc.params.conv).toEqual(new ConvMacroParams(32, 32));
    expect(cells[3].stems.map((s) => s.name)).toEqual(['prepr_reduce', 'prepr_normal']);
    expect(cells[3].stems[0].params.conv).toEqual(new ConvMacroParams(64, 32));
    expect(cells[7].postOp.params).toEqual({ conv: new ConvMacroParams(256, 256), out_states: 4 });
    expect(desc.logitsOp.params).toEqual({ n_ch: 256, n_classes: 10 });
    expect(desc.modelStems.map((s) => [s.name, s.params.conv])).toEqual([
      ['stem_conv3x3', new ConvMacroParams(3, 48)],
      ['stem_conv3x3', new ConvMacroParams(3, 48)],
    ]);
    // An aliased ConvMacroParams is read once per use, never shared between nodes.
    expect(cells[0].nodes()[1].convParams).toEqual(new ConvMacroParams(16, 16));
    expect(cells[0].nodes()[1].convParams).not.toBe(cells[0].nodes()[0].convParams);

    // Config sections (`data:`) become the conf, the aliased cell section included.
    expect(desc.confModelDesc.dataset).toMatchObject({ name: 'cifar10', channels: 3, n_classes: 10 });
    expect(desc.confModelDesc.model_stems).toEqual({
      init_node_ch: 16,
      ops: ['stem_conv3x3', 'stem_conv3x3'],
      stem_multiplier: 3,
    });
    expect(desc.confModelDesc.cell).toEqual({ cell_post_op: 'concate_channels', n_nodes: 4 });
    expect(cells[5].confCell).toEqual({ cell_post_op: 'concate_channels', n_nodes: 4 });
    expect(desc.dsCh).toBe(3);
    expect(desc.nClasses).toBe(10);
    expect(desc.maxFinalEdges).toBe(2);
  });

  it('loads Archai 0.6 files (archai.nas.model_desc, CellType called with its value)', () => {
    const text = fixture(TOY_LEGACY);
    expect(text).toContain('!!python/object/apply:archai.nas.model_desc.CellType\n  - regular');
    const desc = modelDescFromArchaiYaml(text);
    expect(desc.cellDescs().map((c) => c.cellType)).toEqual([
      CellType.Regular,
      CellType.Reduction,
      CellType.Regular,
    ]);
    expect(genotypeToString(modelDescToGenotype(desc))).toBe(TOY_GENOTYPE);
  });

  it('reads aux towers', () => {
    const desc = modelDescFromArchaiYaml(fixture(TOY_EVAL));
    expect(desc.auxTowerDescs.map((a) => (a ? [a.chIn, a.nClasses, a.stride] : null))).toEqual([
      null,
      null,
      null,
      [256, 10, 3],
      null,
    ]);
  });

  it('is what loadModelDesc and modelDescFromYaml read from an Archai file', async () => {
    const desc = await loadModelDesc(join(FIXTURES, SEARCH));
    expect(genotypeToString(modelDescToGenotype(desc))).toBe(SEARCH_GENOTYPE);
    expect(modelDescToObject(modelDescFromYaml(fixture(TOY_LEGACY)))).toEqual(
      modelDescToObject(modelDescFromArchaiYaml(fixture(TOY_LEGACY))),
    );
  });

  it('serves as the template of the evaluation network, as Archai eval uses final_model_desc.yaml', () => {
    const template = modelDescFromArchaiYaml(fixture(SEARCH));
    const conf = dartsEvalConf();
    const evalDesc = new ModelDescBuilder().build(conf, template);
    expect(evalDesc.cellDescs()).toHaveLength(20);
    expect(genotypeToString(modelDescToGenotype(evalDesc))).toBe(SEARCH_GENOTYPE);
    // Same network as from the genotype string itself, except that, as in Archai, the nodes keep
    // the template's (search-time) conv_params, which no op reads.
    const fromString = new ModelDescBuilder().build(
      conf,
      genotypeToTemplate(parseGenotype(SEARCH_GENOTYPE), conf),
    );
    const withoutNodeConv = (d: typeof evalDesc) => {
      const o = modelDescToObject(d);
      for (const c of o.cells) for (const n of c.nodes) n.conv_params = { ch_in: 0, ch_out: 0 };
      return o;
    };
    expect(withoutNodeConv(evalDesc)).toEqual(withoutNodeConv(fromString));
    expect(evalDesc.cellDescs()[0].nodes()[0].convParams).toEqual(new ConvMacroParams(16, 16));
  });

  it('detects Archai files by the python tag at the document root', () => {
    expect(isArchaiDescYaml(fixture(SEARCH))).toBe(true);
    expect(isArchaiDescYaml(`# saved by archai\n---\n${fixture(TOY_LEGACY)}`)).toBe(true);
    expect(isArchaiDescYaml('--- !!python/object:x.Y\na: 1\n')).toBe(true);
    const tsnas = modelDescToYaml(new ModelDescBuilder().build(dartsSearchConf()));
    expect(isArchaiDescYaml(tsnas)).toBe(false);
    expect(isArchaiDescYaml('format: tsnas/model-desc\nx: !!python/object:a.B {}\n')).toBe(false);
  });
});

describe('errors in Archai desc files name the file, line and problem', () => {
  it('an unknown tag (a torch tensor) is reported by tag and line, never constructed', () => {
    const text = fixture(SEARCH);
    const bad = text.replace(
      'trainables: null',
      "trainables: !!python/object/apply:torch._utils._rebuild_tensor_v2 [!!python/name:os.system '', rm]",
    );
    const line = lineOf(bad, 'torch._utils');
    const e = thrown(() => modelDescFromArchaiYaml(bad, 'final_model_desc.yaml'));
    expect(e.message).toMatch(
      new RegExp(
        `^final_model_desc\\.yaml:${line}:\\d+: unknown YAML tag '!!python/object/apply:torch\\._utils\\._rebuild_tensor_v2'`,
      ),
    );
    expect(e.exitCode).toBe(2);
  });

  it('an unknown Archai class and a CellType of another module are unknown tags', () => {
    const text = fixture(SEARCH);
    const bogus = text.replace(
      'conv_params: &id001 !!python/object:archai.supergraph.nas.model_desc.ConvMacroParams',
      'conv_params: &id001 !!python/object:archai.supergraph.nas.model_desc.Bogus',
    );
    expect(() => modelDescFromArchaiYaml(bogus, 'f.yaml')).toThrow(
      new RegExp(
        `^f\\.yaml:${lineOf(bogus, 'Bogus')}:\\d+: unknown YAML tag '!!python/object:archai\\.supergraph\\.nas\\.model_desc\\.Bogus'`,
      ),
    );
    const otherName = text.replace(
      "!!python/name:archai.supergraph.nas.model_desc.CellType ''",
      "!!python/name:os.system ''",
    );
    expect(() => modelDescFromArchaiYaml(otherName, 'f.yaml')).toThrow(
      new RegExp(
        `^f\\.yaml:${lineOf(otherName, 'os.system')}:\\d+: unknown YAML tag '!!python/name:os\\.system'`,
      ),
    );
  });

  it('getattr is accepted only on CellType, with a known member', () => {
    const text = fixture(SEARCH);
    const member = text.replace('  - Reduction\n', '  - Bogus\n');
    expect(() => modelDescFromArchaiYaml(member, 'f.yaml')).toThrow(
      new RegExp(
        `^f\\.yaml:${lineOf(member, '- Bogus')}:\\d+: cells\\[2\\]\\.cell_type\\[1\\]: unknown CellType member "Bogus"`,
      ),
    );
    // getattr over something that is not the CellType class, e.g. a Config.
    const target = text.replace(
      "  - &id006 !!python/name:archai.supergraph.nas.model_desc.CellType ''\n",
      '  - !!python/object:archai.common.config.Config {data: {}}\n',
    );
    expect(() => modelDescFromArchaiYaml(target, 'f.yaml')).toThrow(
      /cells\[0\]\.cell_type: expected a CellType/,
    );
  });

  it('a missing or unknown field names the class and field', () => {
    const text = fixture(TOY_LEGACY);
    const missing = text.replace('  trainables_from: 0\n', '');
    // Reported at the CellDesc's first field.
    expect(() => modelDescFromArchaiYaml(missing, 'f.yaml')).toThrow(
      new RegExp(
        `^f\\.yaml:${lineOf(missing, '_nodes:')}:3: cells\\[0\\]: CellDesc is missing its field 'trainables_from'$`,
      ),
    );
    const extra = text.replace('  id: 1\n', '  id: 1\n  colour: red\n');
    expect(() => modelDescFromArchaiYaml(extra, 'f.yaml')).toThrow(
      new RegExp(`^f\\.yaml:${lineOf(extra, 'colour')}:3: cells\\[1\\]: CellDesc has no field "colour"`),
    );
  });

  it('a desc that Archai itself would reject is reported at the line of the bad value', () => {
    const text = fixture(TOY_LEGACY);
    // Node 0 of cell 0 reads state 3, which does not exist yet. Its input_ids list is the first one.
    const bad = text.replace('input_ids:\n      - 0', 'input_ids:\n      - 3');
    const line = lineOf(bad, 'input_ids:\n      - 3') + 1;
    expect(() => modelDescFromArchaiYaml(bad, 'f.yaml')).toThrow(
      new RegExp(
        `^f\\.yaml:${line}:\\d+: cells\\[0\\]\\.nodes\\[0\\]\\.edges\\[0\\]\\.input_ids\\[0\\]: input id 3 does not exist`,
      ),
    );
  });

  it('a value that is not what the class holds', () => {
    const text = fixture(TOY_LEGACY);
    const bad = text.replace('  id: 1\n', '  id: one\n');
    expect(() => modelDescFromArchaiYaml(bad, 'f.yaml')).toThrow(
      new RegExp(
        `^f\\.yaml:${lineOf(bad, 'id: one')}:\\d+: cells\\[1\\]\\.id: expected an integer, got "one"`,
      ),
    );
    const notDesc =
      '!!python/object:archai.supergraph.nas.model_desc.OpDesc {name: x, in_len: 1, params: {}}\n';
    expect(() => modelDescFromArchaiYaml(notDesc, 'f.yaml')).toThrow(
      /^f\.yaml:1:\d+: \(document root\): expected !!python\/object:\.\.\.ModelDesc, got !!python\/object:archai\.supergraph\.nas\.model_desc\.OpDesc/,
    );
  });

  it('aliases that contain themselves or expand without bound are refused', () => {
    const text = fixture(TOY_LEGACY);
    const cyclic = text.replace(/out_shape:\n( {2}- [-\d]+\n)+/, 'out_shape: &loop\n  - *loop\n');
    expect(() => modelDescFromArchaiYaml(cyclic, 'f.yaml')).toThrow(
      /refers to a value that contains it|alias/,
    );
    const bomb = [
      'a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]',
      ...Array.from(
        { length: 8 },
        (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`,
      ),
    ].join('\n    ');
    const boom = text
      .replace('  params: {}\n', `  params: {}\n`)
      .replace(
        '    model_post_op: pool_adaptive_avg2d\n',
        `    model_post_op: pool_adaptive_avg2d\n    bomb:\n    ${bomb}\n`,
      );
    const started = Date.now();
    expect(() => modelDescFromArchaiYaml(boom, 'f.yaml')).toThrow(
      /more than 100000 values after expanding aliases/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('writing Archai YAML', () => {
  it('round trip: Archai -> tsnas -> Archai YAML -> tsnas gives the same desc', () => {
    for (const name of [SEARCH, TOY_LEGACY, TOY_EVAL]) {
      const first = modelDescFromArchaiYaml(fixture(name));
      const written = modelDescToArchaiYaml(first);
      const again = modelDescFromArchaiYaml(written);
      expect(modelDescToObject(again)).toEqual(modelDescToObject(first));
      // And writing is deterministic.
      expect(modelDescToArchaiYaml(again)).toBe(written);
    }
  });

  it('writes the objects, the getattr enum form and Config sections as Archai does', () => {
    const written = modelDescToArchaiYaml(modelDescFromArchaiYaml(fixture(TOY_LEGACY)));
    expect(written.startsWith(`!!python/object:${ARCHAI_DESC_MODULE}.ModelDesc\n_cell_descs:\n`)).toBe(true);
    expect(written).toContain(
      `cell_type: !!python/object/apply:builtins.getattr\n    - !!python/name:${ARCHAI_DESC_MODULE}.CellType ''\n    - Reduction\n`,
    );
    expect(written).toContain('conf_cell: !!python/object:archai.common.config.Config\n');
    // Fields in yaml.dump's (sorted) order, derived ModelDesc fields included.
    const top = written
      .split('\n')
      .filter((l) => /^[a-z_]+:/.test(l))
      .map((l) => l.split(':')[0]);
    expect(top).toEqual([
      '_cell_descs',
      'aux_tower_descs',
      'conf_model_desc',
      'ds_ch',
      'logits_op',
      'max_final_edges',
      'model_stems',
      'n_classes',
      'params',
      'pool_op',
    ]);
    const legacy = modelDescToArchaiYaml(modelDescFromArchaiYaml(fixture(TOY_LEGACY)), {
      module: 'archai.nas.model_desc',
    });
    expect(legacy).toContain('!!python/object:archai.nas.model_desc.OpDesc');
    expect(modelDescToObject(modelDescFromArchaiYaml(legacy))).toEqual(
      modelDescToObject(modelDescFromArchaiYaml(fixture(TOY_LEGACY))),
    );
  });

  it('a tsnas desc (one shared stem, DARTS eval network) goes to Archai YAML and back unchanged', async () => {
    const conf = dartsEvalConf();
    const desc = new ModelDescBuilder().build(conf, genotypeToTemplate(parseGenotype(SEARCH_GENOTYPE), conf));
    const dir = await mkdtemp(join(tmpdir(), 'archai-'));
    try {
      const file = join(dir, 'final_model_desc.yaml');
      await writeFile(file, modelDescToArchaiYaml(desc));
      const back = await loadModelDesc(file);
      expect(modelDescToObject(back)).toEqual(modelDescToObject(desc));
      expect(back.modelStems).toHaveLength(1);
      expect(back.auxTowerDescs[13]?.chIn).toBe(576);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
