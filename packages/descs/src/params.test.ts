import { describe, expect, it } from 'vitest';
import { countParams } from './__tests__/darts-params.js';
import { dartsEvalConf } from './__tests__/fixtures.js';
import { ModelDescBuilder } from './builder.js';
import { DARTS_V1, DARTS_V2, type Genotype, genotypeToTemplate } from './genotypes.js';

function evalNet(g: Genotype, stems: string[] = ['stem_conv3x3']) {
  const conf = dartsEvalConf({ model_stems: { ops: stems, stem_multiplier: 3, init_node_ch: 36 } });
  return new ModelDescBuilder().build(conf, genotypeToTemplate(g, conf));
}

// Published sizes of the DARTS paper's CIFAR-10 evaluation network (DESIGN.md, Numerics).
describe('DARTS evaluation network size', () => {
  it('DARTS_V2: 3,349,342 params without the aux head, 3,825,768 with it', () => {
    const desc = evalNet(DARTS_V2);
    expect(countParams(desc, false)).toBe(3_349_342);
    expect(countParams(desc, true)).toBe(3_825_768);
  });

  it('DARTS_V1: 3,169,414 and 3,645,840', () => {
    const desc = evalNet(DARTS_V1);
    expect(countParams(desc, false)).toBe(3_169_414);
    expect(countParams(desc, true)).toBe(3_645_840);
  });

  it("Archai's two separate stems add one stem's 3,132 params", () => {
    expect(countParams(evalNet(DARTS_V2, ['stem_conv3x3', 'stem_conv3x3']), false)).toBe(3_349_342 + 3_132);
  });
});
