import { describe, expect, it } from 'vitest';
import { dartsEvalConf, dartsSearchConf } from './__tests__/fixtures.js';
import { ModelDescBuilder } from './builder.js';
import { DescError } from './errors.js';
import {
  DARTS_V1,
  DARTS_V2,
  type Genotype,
  genotypeNames,
  genotypeToString,
  genotypeToTemplate,
  getGenotype,
  modelDescToGenotype,
  PDARTS,
  parseGenotype,
  resolveGenotype,
} from './genotypes.js';
import { CellType, ConvMacroParams, EdgeDesc, OpDesc } from './model-desc.js';
import { modelDescFromYaml, modelDescToYaml } from './serialize.js';

// As printed in the DARTS repository's cnn/genotypes.py.
const DARTS_V2_TEXT =
  "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])";

// As printed in the P-DARTS repository (range form, irregular spacing).
const PDARTS_TEXT =
  "Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('skip_connect', 0),('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3',0), ('dil_conv_5x5', 4)], normal_concat=range(2, 6), reduce=[('avg_pool_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 0), ('dil_conv_3x3', 1), ('dil_conv_3x3', 1), ('dil_conv_5x5', 3)], reduce_concat=range(2, 6))";

function parseError(text: string): string {
  try {
    parseGenotype(text, 'arg');
  } catch (e) {
    expect(e).toBeInstanceOf(DescError);
    expect((e as DescError).exitCode).toBe(2);
    return (e as Error).message;
  }
  throw new Error(`parsed without error: ${text}`);
}

describe('named genotypes', () => {
  it('lookup is case-insensitive and returns a copy', () => {
    expect(getGenotype('darts_v2')).toEqual(DARTS_V2);
    expect(getGenotype('DARTS_V1')).toEqual(DARTS_V1);
    expect(getGenotype('Darts')).toEqual(DARTS_V2);
    expect(getGenotype('pdarts')).toEqual(PDARTS);
    const g = getGenotype('darts_v2');
    g.normal[0][1] = 1;
    expect(DARTS_V2.normal[0][1]).toBe(0);
  });

  it('an unknown name lists the known ones', () => {
    expect(genotypeNames()).toEqual(['DARTS', 'DARTS_V1', 'DARTS_V2', 'PDARTS']);
    expect(() => getGenotype('enas')).toThrow(
      "unknown genotype 'enas'; known genotypes: DARTS, DARTS_V1, DARTS_V2, PDARTS",
    );
  });

  it('resolveGenotype takes a name or a string', () => {
    expect(resolveGenotype('pdarts')).toEqual(PDARTS);
    expect(resolveGenotype(PDARTS_TEXT)).toEqual(PDARTS);
  });
});

describe('parseGenotype', () => {
  it('parses the DARTS_V2 and P-DARTS strings of the original repositories', () => {
    expect(parseGenotype(DARTS_V2_TEXT)).toEqual(DARTS_V2);
    expect(parseGenotype(PDARTS_TEXT)).toEqual(PDARTS);
  });

  it('prints the normalised text, which for DARTS_V2 is the original', () => {
    expect(genotypeToString(DARTS_V2)).toBe(DARTS_V2_TEXT);
    expect(genotypeToString(parseGenotype(PDARTS_TEXT))).toBe(
      PDARTS_TEXT.replace(/,\(/g, ', (')
        .replace(/',0\)/g, "', 0)")
        .replace(/range\(2, 6\)/g, '[2, 3, 4, 5]'),
    );
  });

  it('accepts double quotes, lists for edges, newlines, trailing commas, positional fields, any order', () => {
    const text = `Genotype(
      reduce_concat = range(2, 6),
      normal = [ ["sep_conv_3x3", 0], ("sep_conv_3x3", 1,), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),
                 ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2), ],
      normal_concat=(2, 3, 4, 5),
      reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1),
              ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)],
    )\n`;
    expect(parseGenotype(text)).toEqual(DARTS_V2);
    const positional = DARTS_V2_TEXT.replace(/(normal|normal_concat|reduce|reduce_concat)=/g, '');
    expect(parseGenotype(positional)).toEqual(DARTS_V2);
    expect(parseGenotype(`(${DARTS_V2_TEXT.slice('Genotype('.length)}`)).toEqual(DARTS_V2);
  });

  it('errors name the line, column and what was expected', () => {
    expect(parseError("Genotype(normal=[('sep_conv_3x3' 0)])")).toBe(
      `arg:1:34: expected ',' after the op name, found "0)])"`,
    );
    expect(parseError('Genotype(normal=[(sep_conv_3x3, 0)])')).toBe(
      `arg:1:19: expected an op name in quotes, found "sep_conv_3x3, 0)"`,
    );
    expect(parseError("Genotype(normal=[('a', 0), ('b', 1)")).toBe(
      `arg:1:36: expected ',' or ']' after an edge, found the end of the text`,
    );
    expect(parseError("Genotype(\n  normal=[('a', x)])")).toBe(
      'arg:2:17: expected an input state index (an integer), found "x)])"',
    );
    expect(parseError('Genotype(normal=[], normal_concat=range[2, 6])')).toBe(
      `arg:1:40: expected '(' after range, found "[2, 6])"`,
    );
    expect(parseError('Genotype(normal=[], normal_concat=rang(2, 6))')).toBe(
      'arg:1:35: expected a list like [2, 3, 4, 5] or range(2, 6), found "rang(2, 6))"',
    );
    expect(parseError('Genotype(normal=[], normal_concat=[], reduce=[])')).toBe(
      'arg:1:49: missing field reduce_concat',
    );
    expect(parseError('Genotype(normal=[], normal=[])')).toBe("arg:1:21: field 'normal' given twice");
    expect(parseError('Genotype(normals=[])')).toBe(
      "arg:1:10: unknown field 'normals'; expected one of normal, normal_concat, reduce, reduce_concat",
    );
    expect(parseError('Genome(normal=[])')).toBe(`arg:1:1: expected 'Genotype(', found "Genome(normal=[]"`);
    expect(parseError(`${DARTS_V2_TEXT} x`)).toBe(
      'arg:1:420: expected the end of the text after the closing ), found "x"',
    );
    expect(
      parseError(DARTS_V2_TEXT.replace("('skip_connect', 0), ('dil", "('skip_connect', 5), ('dil")),
    ).toMatch(
      /^arg:1:144: normal\[6\] \('skip_connect', 5\): node 3 can read states 0\.\.4 \(s0, s1 and the nodes before it\), not 5$/,
    );
    expect(parseError("Genotype(normal=[('a', 0)], normal_concat=[2], reduce=[], reduce_concat=[])")).toMatch(
      /normal has 1 edges; expected 2 per node/,
    );
    expect(
      parseError("Genotype(normal=[('a', 0), ('b', 0)], normal_concat=[2, 7], reduce=[], reduce_concat=[])"),
    ).toBe('arg:1:57: normal_concat[1]: state 7 does not exist; the cell has states 0..2');
    expect(parseError("Genotype(normal=[('a, 0)])")).toBe('arg:1:19: unterminated string starting here');
  });
});

describe('genotype <-> desc', () => {
  it('the template carries the genotype edges: pairs per node, stride 2 from inputs 0 and 1 in reductions', () => {
    const conf = dartsSearchConf();
    const t = genotypeToTemplate(DARTS_V2, conf);
    const red = t.cellDescs()[2];
    expect(red.cellType).toBe(CellType.Reduction);
    expect(
      red.nodes().map((n) => n.edges.map((e) => [e.opDesc.name, e.inputIds[0], e.opDesc.params.stride])),
    ).toEqual([
      [
        ['max_pool_3x3', 0, 2],
        ['max_pool_3x3', 1, 2],
      ],
      [
        ['skip_connect', 2, 1],
        ['max_pool_3x3', 1, 2],
      ],
      [
        ['max_pool_3x3', 0, 2],
        ['skip_connect', 2, 1],
      ],
      [
        ['skip_connect', 2, 1],
        ['max_pool_3x3', 1, 2],
      ],
    ]);
    const n3 = t.cellDescs()[0].nodes()[3].edges[1];
    expect(n3).toEqual(
      new EdgeDesc(new OpDesc('dil_conv_3x3', { conv: new ConvMacroParams(16, 16), stride: 1 }, 1), [2]),
    );
  });

  it('string -> genotype -> template -> builder -> desc -> genotype -> string', () => {
    for (const text of [DARTS_V2_TEXT, PDARTS_TEXT, genotypeToString(DARTS_V1)]) {
      const normalised = genotypeToString(parseGenotype(text));
      const evalConf = dartsEvalConf();
      const template = genotypeToTemplate(parseGenotype(text), dartsSearchConf());
      const desc = new ModelDescBuilder().build(evalConf, template);
      expect(desc.cellDescs()).toHaveLength(20);
      expect(genotypeToString(modelDescToGenotype(desc))).toBe(normalised);
      // and through a desc file
      const reloaded = modelDescFromYaml(modelDescToYaml(desc));
      expect(genotypeToString(modelDescToGenotype(reloaded))).toBe(normalised);
    }
  });

  it('a 5-node genotype builds 5-node cells with 5-state concat', () => {
    const g: Genotype = {
      normal: [...DARTS_V2.normal, ['sep_conv_5x5', 5], ['skip_connect', 0]],
      normalConcat: [2, 3, 4, 5, 6],
      reduce: [...DARTS_V2.reduce, ['avg_pool_3x3', 0], ['max_pool_3x3', 4]],
      reduceConcat: [2, 3, 4, 5, 6],
    };
    const desc = new ModelDescBuilder().build(dartsEvalConf(), genotypeToTemplate(g, dartsSearchConf()));
    expect(desc.cellDescs()[0].postOp.params).toEqual({ conv: new ConvMacroParams(180, 180), out_states: 5 });
    expect(
      desc
        .cellDescs()[6]
        .nodes()[4]
        .edges.map((e) => e.opDesc.params.stride),
    ).toEqual([2, 1]);
    expect(modelDescToGenotype(desc)).toEqual(g);
  });

  it('rejects concat lists that a cell post op cannot build', () => {
    const nasnetLike = { ...DARTS_V2, normalConcat: [3, 4, 5] };
    expect(() => genotypeToTemplate(nasnetLike, dartsSearchConf())).toThrow(
      "genotype normal_concat=[3, 4, 5] is not supported: a cell's concate_channels takes every node output, so it must be [2, 3, 4, 5] for 4 nodes",
    );
  });

  it('rejects descs that are not finalized cells', () => {
    const search = new ModelDescBuilder().build(dartsSearchConf());
    expect(() => modelDescToGenotype(search)).toThrow(
      /cells\[0\]\.nodes\[0\]: has 0 edges; a genotype needs exactly 2 per node/,
    );
    const desc = genotypeToTemplate(DARTS_V2, dartsSearchConf());
    desc.cellDescs()[2].nodes()[1].edges[0] = new EdgeDesc(new OpDesc('sum', {}, 2), [0, 1]);
    expect(() => modelDescToGenotype(desc)).toThrow(
      "cells[2].nodes[1].edges[0]: op 'sum' reads 2 states; a genotype edge reads one",
    );
  });
});
