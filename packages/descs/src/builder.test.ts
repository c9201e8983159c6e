import { describe, expect, it } from 'vitest';
import { dartsEvalConf, dartsSearchConf } from './__tests__/fixtures.js';
import { getStemReduction, ModelDescBuilder, registerStemReduction } from './builder.js';
import { DescError } from './errors.js';
import {
  CellType,
  type ConfCell,
  ConvMacroParams,
  EdgeDesc,
  type ModelDesc,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from './model-desc.js';

const build = (conf = dartsSearchConf(), template: ModelDesc | null = null) =>
  new ModelDescBuilder().build(conf, template);

const reductionsOf = (d: ModelDesc) =>
  d
    .cellDescs()
    .map((c, i) => (c.cellType === CellType.Reduction ? i : -1))
    .filter((i) => i >= 0);

/** A DARTS-like search builder: node i gets one mixed_op edge from every earlier state. */
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
        edges.push(new EdgeDesc(new OpDesc('mixed_op', { conv: new ConvMacroParams(c, c), stride }, 1), [j]));
      }
      return new NodeDesc(edges, n.convParams);
    });
    return { nodeShapes: built.nodeShapes, nodes };
  }
}

describe('reduction indices', () => {
  it.each([
    [8, 2, [2, 5]],
    [20, 2, [6, 13]],
    [14, 2, [4, 9]],
    [5, 2, [1, 3]],
    [3, 1, [1]],
    [4, 0, []],
  ])('%i cells, %i reductions -> %j', (nCells, nReductions, expected) => {
    const conf = dartsSearchConf({ n_cells: nCells, n_reductions: nReductions });
    expect(new ModelDescBuilder().getReductionIndices(conf)).toEqual(expected);
    expect(reductionsOf(build(conf))).toEqual(expected);
  });

  it('rejects fewer than 2*n_reductions+1 cells, naming the values', () => {
    const conf = dartsSearchConf({ n_cells: 4, n_reductions: 2 });
    expect(() => build(conf)).toThrow(DescError);
    expect(() => build(conf)).toThrow(/n_cells=4 .*n_reductions=2.*2\*n_reductions\+1 = 5/);
    try {
      build(conf);
    } catch (e) {
      expect((e as DescError).exitCode).toBe(2);
    }
  });
});

describe('channels', () => {
  const nodeCh = (d: ModelDesc) => d.cellDescs().map((c) => c.nodes()[0].convParams.chOut);
  const outCh = (d: ModelDesc) => d.cellDescs().map((c) => c.outShape[0]);

  it('search, 8 cells: nodes 16,16 | 32,32,32 | 64,64,64; concat outputs 64/128/256', () => {
    const d = build();
    expect(nodeCh(d)).toEqual([16, 16, 32, 32, 32, 64, 64, 64]);
    expect(outCh(d)).toEqual([64, 64, 128, 128, 128, 256, 256, 256]);
    for (const c of d.cellDescs()) {
      expect(c.nodes()).toHaveLength(4);
      expect(c.nodeShapes).toEqual(c.nodes().map(() => [c.nodes()[0].convParams.chOut, -1, -1, -1]));
      expect(c.postOp.name).toBe('concate_channels');
      expect(c.postOp.params.out_states).toBe(4);
      expect(c.postOp.params.conv).toEqual(new ConvMacroParams(c.outShape[0], c.outShape[0]));
    }
  });

  it('eval, 20 cells: 36x6 | 72x7 | 144x7; concat outputs 144/288/576', () => {
    const d = build(dartsEvalConf());
    const expectedNode = [...Array(6).fill(36), ...Array(7).fill(72), ...Array(7).fill(144)];
    expect(nodeCh(d)).toEqual(expectedNode);
    expect(outCh(d)).toEqual(expectedNode.map((c) => 4 * c));
    expect(d.poolOp).toEqual(new OpDesc('pool_adaptive_avg2d', { conv: new ConvMacroParams(576, 576) }, 1));
    expect(d.logitsOp).toEqual(new OpDesc('linear', { n_ch: 576, n_classes: 10 }, 1));
  });

  it('14 and 5 cells', () => {
    const d14 = build(dartsEvalConf({ n_cells: 14 }));
    expect(nodeCh(d14)).toEqual([36, 36, 36, 36, 72, 72, 72, 72, 72, 144, 144, 144, 144, 144]);
    const d5 = build(dartsSearchConf({ n_cells: 5 }));
    expect(nodeCh(d5)).toEqual([16, 32, 32, 64, 64]);
    expect(outCh(d5)).toEqual([64, 128, 128, 256, 256]);
  });

  it('proj_channels: the post op projects n_nodes*C back to C', () => {
    const d = build(dartsSearchConf({ cell: { n_nodes: 3, cell_post_op: 'proj_channels' } }));
    const c2 = d.cellDescs()[2];
    expect(c2.postOp.params).toEqual({ conv: new ConvMacroParams(96, 32), out_states: 3 });
    expect(c2.outShape).toEqual([32, -1, -1, -1]);
    // cell 3 reads cell 2 (32 ch) and cell 1 (16 ch): channels doubled -> s0 must reduce
    expect(d.cellDescs()[3].stems[0].name).toBe('prepr_reduce');
    expect(d.logitsOp.params.n_ch).toBe(64);
  });
});

describe('cell stems', () => {
  it('prepr_reduce exactly on the cells after a reduction, with (C_pp -> C) convs', () => {
    for (const [conf, after] of [
      [dartsSearchConf(), [3, 6]],
      [dartsEvalConf(), [7, 14]],
    ] as const) {
      const d = build(conf);
      const reducing = d
        .cellDescs()
        .map((c, i) => (c.stems[0].name === 'prepr_reduce' ? i : -1))
        .filter((i) => i >= 0);
      expect(reducing).toEqual(after);
      for (const c of d.cellDescs()) expect(c.stems[1].name).toBe('prepr_normal');
    }
    const cells = build(dartsEvalConf()).cellDescs();
    // s0 reads the cell before last, s1 the last cell (or the stem for cells 0 and 1)
    expect(cells[0].stems.map((s) => s.params.conv)).toEqual([
      new ConvMacroParams(108, 36),
      new ConvMacroParams(108, 36),
    ]);
    expect(cells[1].stems.map((s) => s.params.conv)).toEqual([
      new ConvMacroParams(108, 36),
      new ConvMacroParams(144, 36),
    ]);
    expect(cells[7].stems.map((s) => s.params.conv)).toEqual([
      new ConvMacroParams(144, 72),
      new ConvMacroParams(288, 72),
    ]);
    expect(cells[14].stems.map((s) => s.params.conv)).toEqual([
      new ConvMacroParams(288, 144),
      new ConvMacroParams(576, 144),
    ]);
  });

  it('one stem is shared by s0 and s1; two stems are separate ops', () => {
    const one = build(dartsEvalConf());
    expect(one.modelStems).toEqual([new OpDesc('stem_conv3x3', { conv: new ConvMacroParams(3, 108) }, 1)]);
    const two = build(dartsSearchConf());
    expect(two.modelStems).toHaveLength(2);
    for (const s of two.modelStems) expect(s.params.conv).toEqual(new ConvMacroParams(3, 48));
    // both cell-0 stems read 108 / 48 channels and neither reduces
    expect(one.cellDescs()[0].stems.map((s) => s.name)).toEqual(['prepr_normal', 'prepr_normal']);
    expect(two.cellDescs()[0].stems.map((s) => s.name)).toEqual(['prepr_normal', 'prepr_normal']);
  });

  it('stem reduction factors give stem shapes [C, -1, -1/r, -1/r]; a smaller s1 makes cell 0 reduce s0', () => {
    const conf = dartsSearchConf({
      model_stems: { ops: ['stem_conv3x3_s4', 'stem_conv3x3_s4s2'], stem_multiplier: 1, init_node_ch: 48 },
      n_cells: 14,
    });
    const d = build(conf);
    const c0 = d.cellDescs()[0];
    expect(c0.stems[0].name).toBe('prepr_reduce');
    // cell stems keep s1's spatial size
    expect(c0.stemShapes[0]).toEqual([48, -1, -1 / 8, -1 / 8]);
    expect(d.cellDescs()[1].stems[0].name).toBe('prepr_normal');
    expect(getStemReduction('stem_conv3x3Relu')).toBe(1);
  });

  it('unknown stems fail with the known list; more can be registered', () => {
    const conf = dartsSearchConf({ model_stems: { ops: ['stem_test_s2'] } });
    expect(() => build(conf)).toThrow(/unknown stem op 'stem_test_s2'; known stems: stem_conv3x3, /);
    registerStemReduction('stem_test_s2', 2);
    expect(build(conf).cellDescs()[0].stemShapes[0]).toEqual([16, -1, -0.5, -0.5]);
    expect(() => registerStemReduction('stem_test_s2', 2)).not.toThrow();
    expect(() => registerStemReduction('stem_test_s2', 4)).toThrow(/already registered with reduction 2/);
  });
});

describe('aux tower and trainables_from', () => {
  it('aux tower only at cell floor(2n/3) = 13 for 20 cells, on its 576 channels', () => {
    const d = build(dartsEvalConf());
    const at = d.auxTowerDescs.map((a, i) => (a ? i : -1)).filter((i) => i >= 0);
    expect(at).toEqual([13]);
    expect(d.auxTowerDescs[13]).toEqual({ chIn: 576, nClasses: 10, stride: 3 });
    expect(d.hasAuxTower()).toBe(true);
  });

  it('no aux tower when aux_weight is 0 or there is only one reduction', () => {
    expect(build(dartsEvalConf({ aux_weight: 0 })).hasAuxTower()).toBe(false);
    expect(build(dartsEvalConf({ n_reductions: 1 })).hasAuxTower()).toBe(false);
  });

  it('reduction cells share the first reduction cell, regular cells the first regular cell', () => {
    expect(
      build()
        .cellDescs()
        .map((c) => c.trainablesFrom),
    ).toEqual([0, 0, 2, 0, 0, 2, 0, 0]);
    const d = build(dartsEvalConf());
    expect(d.cellDescs().map((c) => c.trainablesFrom)).toEqual(
      d.cellDescs().map((c) => (c.cellType === CellType.Reduction ? 6 : 0)),
    );
  });
});

describe('base builder nodes and templates', () => {
  it('base nodes have no edges', () => {
    const d = build();
    expect(d.cellDescs().every((c) => c.allEmpty())).toBe(true);
    expect(d.cellDescs()[0].nodes()[0].convParams).toEqual(new ConvMacroParams(16, 16));
  });

  it('an overridden buildNodes hook makes the DARTS supergraph: 14 edges per cell, stride 2 into reductions', () => {
    const d = new MixedOpBuilder().build(dartsSearchConf());
    for (const c of d.cellDescs()) {
      expect(c.nodes().map((n) => n.edges.length)).toEqual([2, 3, 4, 5]);
      const strides = c.nodes()[3].edges.map((e) => e.opDesc.params.stride);
      expect(strides).toEqual(c.cellType === CellType.Reduction ? [2, 2, 1, 1, 1] : [1, 1, 1, 1, 1]);
    }
  });

  it('a template is scaled: edges cloned with (C,C) convs, trainables cleared, strides and inputs kept', () => {
    const template = new MixedOpBuilder().build(dartsSearchConf());
    const t0 = template.cellDescs()[0].nodes()[1].edges[2];
    t0.opDesc.trainables = { name: 'mixed_op', weights: { w: { shape: [1], data: [0.5] } } };
    const d = build(dartsEvalConf(), template);
    expect(d.cellDescs()).toHaveLength(20);
    const e = d.cellDescs()[15].nodes()[1].edges[2];
    expect(e.opDesc.params).toEqual({ conv: new ConvMacroParams(144, 144), stride: 1 });
    expect(e.opDesc.trainables).toBeNull();
    expect(e.inputIds).toEqual([2]);
    const r = d
      .cellDescs()[13]
      .nodes()[3]
      .edges.map((x) => [x.opDesc.params.stride, x.inputIds[0]]);
    expect(r).toEqual([
      [2, 0],
      [2, 1],
      [1, 2],
      [1, 3],
      [1, 4],
    ]);
    // node conv params come from the template unchanged (Archai keeps the search channels)
    expect(d.cellDescs()[15].nodes()[0].convParams).toEqual(new ConvMacroParams(16, 16));
    // the template itself is untouched
    expect(t0.opDesc.trainables).not.toBeNull();
    expect(t0.opDesc.params.conv).toEqual(new ConvMacroParams(16, 16));
  });

  it('a template without a reduction cell cannot build a net with one', () => {
    const template = new MixedOpBuilder().build(dartsSearchConf({ n_cells: 3, n_reductions: 0 }));
    expect(() => build(dartsSearchConf(), template)).toThrow(/template desc has no reduction cell/);
  });

  it('every hook is an overridable method', () => {
    const calls: string[] = [];
    const hooks = [
      'preBuild',
      'buildModelStems',
      'buildCells',
      'buildCell',
      'buildCellStems',
      'buildNodes',
      'buildCellPostOp',
      'buildAuxTower',
      'buildModelPool',
      'buildLogitsOp',
      'getReductionIndices',
      'getNodeChannels',
      'getCellType',
      'getTrainablesFrom',
    ] as const;
    const b = new ModelDescBuilder() as any;
    for (const h of hooks) {
      const orig = b[h].bind(b);
      b[h] = (...args: unknown[]) => {
        if (!calls.includes(h)) calls.push(h);
        return orig(...args);
      };
    }
    b.build(dartsSearchConf({ n_cells: 5, aux_weight: 0.4 }));
    expect([...calls].sort()).toEqual([...hooks].sort());
    expect(typeof b.buildNodesFromTemplate).toBe('function');
    expect(typeof b.seedCell).toBe('function');
  });

  it('bad profile values fail with the key name', () => {
    expect(() => build(dartsSearchConf({ cell: { n_nodes: 0 } }))).toThrow(
      /model_desc.cell.n_nodes: expected an integer >= 1, got 0/,
    );
    expect(() => build(dartsSearchConf({ cell: { cell_post_op: 'sum' } }))).toThrow(
      /cell.cell_post_op: expected 'concate_channels' or 'proj_channels', got "sum"/,
    );
    expect(() => build(dartsSearchConf({ model_stems: { ops: ['a', 'b', 'c'] } }))).toThrow(
      /model_stems.ops: expected a list of 1 stem op/,
    );
  });
});
