import 'reflect-metadata';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, SeededRng } from '@tsnas/backend';
import { loadConfig, type TsnasProfile } from '@tsnas/config';
import {
  type BuiltNodes,
  type ConfCell,
  type ConfModelDesc,
  CellType,
  ConvMacroParams,
  EdgeDesc,
  type ModelDesc,
  ModelDescBuilder,
  NodeDesc,
  OpDesc,
  type TensorShape,
  type TensorShapes,
} from '@tsnas/descs';
import { findOp, Identity, Model, Op, registerOp } from '@tsnas/ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRunContainer } from './experiment.js';
import {
  DefaultFinalizers,
  type FinalizeContext,
  type FinalizerRegistry,
  RandomFinalizers,
} from './finalizers.js';
import {
  type AlgoPlugin,
  type AlgoSource,
  defineAlgo,
  installPlugin,
  validateAlgoSection,
} from './plugin.js';
import { AlgoRegistry, findPackageDir } from './registry.js';
import { ARCH_TRAINER, FINALIZERS, MODEL_DESC_BUILDER } from './tokens.js';

// The zod copy @tsnas/config validates profiles with (the runner has no zod of its own).
const configDir = findPackageDir('@tsnas/config', process.cwd());
if (!configDir) throw new Error('@tsnas/config is not installed next to @tsnas/runner');
const { z } = createRequire(join(configDir, 'package.json'))('zod') as { z: any };

const plugin = (name: string) => defineAlgo({ name, config: 'x.yaml', register() {} });

describe('AlgoRegistry', () => {
  it('a name claimed by two packages is an error naming both', () => {
    const r = new AlgoRegistry();
    r.add({ plugin: plugin('foo'), packageName: 'tsnas-algo-foo', version: '1.0.0', origin: 'installed' });
    expect(() =>
      r.add({ plugin: plugin('foo'), packageName: '@acme/tsnas-foo', version: '2.1.0', origin: 'config' }),
    ).toThrow(
      /'foo' is claimed by two plug-ins: tsnas-algo-foo@1.0.0 \(installed\) and @acme\/tsnas-foo@2.1.0 \(config\)/,
    );
  });

  it('an unknown name lists the known ones and where plug-ins are looked for', () => {
    const r = new AlgoRegistry();
    r.add({
      plugin: plugin('darts'),
      packageName: '@tsnas/algo-darts',
      version: '0.1.0',
      origin: 'built-in',
    });
    r.add({
      plugin: plugin('random'),
      packageName: '@tsnas/algo-random',
      version: '0.1.0',
      origin: 'built-in',
    });
    let err: any;
    try {
      r.get('dartz');
    } catch (e) {
      err = e;
    }
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain("unknown algorithm 'dartz' (did you mean 'darts'?). Known: darts, random");
    expect(err.message).toContain('@tsnas/algo-dartz or tsnas-algo-dartz');
  });
});

describe('createRunContainer', () => {
  it('registers the defaults and lets the plug-in override them, without leaking between runs', () => {
    const custom = { build: () => null };
    const a = createRunContainer({
      plugin: defineAlgo({
        name: 'a',
        config: 'a.yaml',
        register: (c) => c.register(MODEL_DESC_BUILDER, { useValue: custom }),
      }),
      packageName: 'a',
      version: '0',
      origin: 'built-in',
    });
    const b = createRunContainer(null);
    expect(a.resolve(MODEL_DESC_BUILDER)).toBe(custom);
    expect(b.resolve(MODEL_DESC_BUILDER)).not.toBe(custom);
    expect(b.resolve(ARCH_TRAINER)).toBeNull();
    const finalizers = b.resolve<FinalizerRegistry>(FINALIZERS);
    expect(finalizers.names()).toEqual(['default', 'random']);
    expect(finalizers.get('')).toBeInstanceOf(DefaultFinalizers);
    expect(finalizers.get('random')).toBeInstanceOf(RandomFinalizers);
    expect(() => finalizers.get('mi')).toThrow(
      "nas.search.finalizer: unknown finalizer 'mi'. Known: default, random",
    );
  });
});

// A declarative plug-in with one op of each kind: a composite op built through `create`, a builder
// that uses it, a finalizer given as a factory, and `register` for the rest.
class TwiceSkip extends Op {
  readonly inner: Op;
  constructor(desc: OpDesc, inner: Op) {
    super(desc);
    this.inner = this.addChild('inner', inner);
  }
  forward(x: tf.Tensor4D | tf.Tensor4D[], training: boolean): tf.Tensor4D {
    return tf.mul(this.inner.forward(x, training), 2);
  }
}

class TwiceChainBuilder extends ModelDescBuilder {
  override buildNodes(
    _stemShapes: TensorShapes,
    _confCell: ConfCell,
    _cellIndex: number,
    cellType: CellType,
    nodeCount: number,
    inShape: TensorShape,
    outShape: TensorShape,
  ): BuiltNodes {
    const c = outShape[0];
    const edge = (name: string, input: number) =>
      new EdgeDesc(
        new OpDesc(
          name,
          { conv: new ConvMacroParams(c, c), stride: cellType === CellType.Reduction && input < 2 ? 2 : 1 },
          1,
        ),
        [input],
      );
    const nodes = Array.from(
      { length: nodeCount },
      (_, i) =>
        new NodeDesc(
          [edge('twice_skip', i + 1), edge('skip_connect', i)],
          new ConvMacroParams(inShape[0], c),
        ),
    );
    return { nodeShapes: nodes.map(() => [...outShape]), nodes };
  }
}

/** Keeps every edge, oldest input first. */
class OldestFirstFinalizers extends DefaultFinalizers {
  override finalizeModel(model: Model, desc: ModelDesc, ctx: FinalizeContext): ModelDesc {
    const out = super.finalizeModel(model, desc, ctx) as ModelDesc;
    for (const cell of out.cellDescs())
      for (const node of cell.nodes()) node.edges.sort((a, b) => a.inputIds[0] - b.inputIds[0]);
    return out;
  }
}

const TINY_NET: ConfModelDesc = {
  dataset: { name: 'tiny', channels: 3, n_classes: 4 },
  n_reductions: 0,
  n_cells: 2,
  max_final_edges: 2,
  model_post_op: 'pool_adaptive_avg2d',
  params: {},
  aux_weight: 0,
  aux_tower_stride: 3,
  model_stems: { ops: ['stem_conv3x3'], stem_multiplier: 3, init_node_ch: 4 },
  cell: { n_nodes: 2, cell_post_op: 'concate_channels' },
};

const twicePlugin = (onRegister: (conf: unknown) => void = () => {}) =>
  defineAlgo({
    name: 'twice',
    config: 'twice.yaml',
    builder: TwiceChainBuilder,
    archTrainer: null,
    ops: {
      twice_skip: (desc, { create }) =>
        new TwiceSkip(desc, create(new OpDesc('skip_connect', { ...desc.params }, 1))),
    },
    finalizers: { oldest_first: () => new OldestFirstFinalizers() },
    register(_c, conf) {
      onRegister(conf);
    },
  });

const sourceOf = (plugin: AlgoPlugin, packageName: string): AlgoSource => ({
  plugin,
  packageName,
  version: '1.0.0',
  origin: 'installed',
});

describe('declarative plug-ins', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('registers the declared op, builder and finalizer, owned by its package, and hands register the profile', () => {
    const conf = { nas: { search: { finalizer: 'oldest_first' } } } as unknown as TsnasProfile;
    let seen: unknown;
    const c = createRunContainer(
      sourceOf(
        twicePlugin((p) => (seen = p)),
        'tsnas-algo-twice',
      ),
      conf,
    );
    expect(seen).toBe(conf);
    expect(findOp(c, 'twice_skip')?.owner).toBe('tsnas-algo-twice');
    expect(c.resolve(ARCH_TRAINER)).toBeNull();
    const finalizers = c.resolve<FinalizerRegistry>(FINALIZERS);
    expect(finalizers.names()).toEqual(['default', 'random', 'oldest_first']);
    expect(finalizers.ownerOf('oldest_first')).toBe('tsnas-algo-twice');
    // Another run (no plug-in) sees none of it.
    expect(findOp(createRunContainer(null), 'twice_skip')).toBeNull();

    const builder = c.resolve<ModelDescBuilder>(MODEL_DESC_BUILDER);
    expect(builder).toBeInstanceOf(TwiceChainBuilder);
    const desc = builder.build(TINY_NET);
    const model = new Model(desc, { container: c, affine: false, droppath: false });
    try {
      // The plug-in's op, its child made by `create` through the run's registry: 2 * identity.
      const op = model.cells[0].nodes[0].edges[0].op as TwiceSkip;
      expect(op).toBeInstanceOf(TwiceSkip);
      const x = tf.randomNormal([1, 4, 4, desc.cellDescs()[0].nodes()[0].convParams.chOut]) as tf.Tensor4D;
      const y = op.forward(x, false);
      expect(Array.from(y.dataSync())).toEqual(Array.from(x.dataSync(), (v) => Math.fround(2 * v)));
      tf.dispose([x, y]);

      const final = finalizers
        .get('oldest_first')
        .finalizeModel(model, desc, { rng: new SeededRng(1), expDir: null }) as ModelDesc;
      expect(
        final
          .cellDescs()[0]
          .nodes()[1]
          .edges.map((e) => [e.opDesc.name, e.inputIds[0]]),
      ).toEqual([
        ['skip_connect', 1],
        ['twice_skip', 2],
      ]);
    } finally {
      model.dispose();
    }
  });

  it('an unknown finalizer lists the known ones, the plug-in’s included', () => {
    const c = createRunContainer(sourceOf(twicePlugin(), 'tsnas-algo-twice'), {} as TsnasProfile);
    expect(() => c.resolve<FinalizerRegistry>(FINALIZERS).get('newest_first')).toThrow(
      "nas.search.finalizer: unknown finalizer 'newest_first'. Known: default, random, oldest_first",
    );
  });

  it('the same op or finalizer from two plug-ins is an error naming both packages', () => {
    const c = createRunContainer(sourceOf(twicePlugin(), 'tsnas-algo-twice'), {} as TsnasProfile);
    const other = defineAlgo({
      name: 'other',
      config: 'other.yaml',
      ops: { twice_skip: (d) => new Identity(d) },
    });
    expect(() => installPlugin(c, sourceOf(other, '@acme/tsnas-other'), {} as TsnasProfile)).toThrow(
      "op 'twice_skip' is registered twice: by tsnas-algo-twice and by @acme/tsnas-other (plug-in 'other')",
    );
    const otherFinalizer = defineAlgo({
      name: 'other',
      config: 'other.yaml',
      finalizers: { oldest_first: DefaultFinalizers },
    });
    expect(() => installPlugin(c, sourceOf(otherFinalizer, '@acme/tsnas-other'))).toThrow(
      "finalizer 'oldest_first' is registered twice: by tsnas-algo-twice and by @acme/tsnas-other",
    );
    // A built-in op name is taken too.
    const shadow = defineAlgo({ name: 's', config: 's.yaml', ops: { sep_conv_3x3: (d) => new Identity(d) } });
    expect(() => createRunContainer(sourceOf(shadow, 'tsnas-algo-s'))).toThrow(
      "op 'sep_conv_3x3' is registered twice: by @tsnas/ops and by tsnas-algo-s",
    );
  });

  it('a register(container) written before the declarative fields still runs', () => {
    const custom = new ModelDescBuilder();
    const legacy = defineAlgo({
      name: 'legacy',
      config: 'legacy.yaml',
      register(c) {
        c.register(MODEL_DESC_BUILDER, { useValue: custom });
        registerOp(c, 'legacy_op', (d) => new Identity(d), 'tsnas-algo-legacy');
      },
    });
    const c = createRunContainer(sourceOf(legacy, 'tsnas-algo-legacy'));
    expect(c.resolve(MODEL_DESC_BUILDER)).toBe(custom);
    expect(findOp(c, 'legacy_op')?.owner).toBe('tsnas-algo-legacy');
  });

  it("validates the plug-in's own section with its schema, naming file, line and key", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnas-schema-'));
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'nas:\n  search:\n    twice:\n      factor: two\n');
    const plugin = defineAlgo({
      name: 'twice',
      config: file,
      schema: z.object({ factor: z.number().int().positive(), scale: z.number().default(1) }),
    });
    return loadConfig([file], { cwd: dir }).then((loaded) => {
      expect(() => validateAlgoSection(plugin, loaded)).toThrow(
        /p\.yaml:4:\d+: nas\.search\.twice\.factor: .*expected number.*\(got "two"\)/,
      );
      writeFileSync(file, 'nas:\n  search:\n    twice:\n      factor: 2\n');
      return loadConfig([file], { cwd: dir }).then((ok) => {
        validateAlgoSection(plugin, ok);
        // The parsed section replaces the written one: defaults filled in.
        expect((ok.tree as any).nas.search.twice).toEqual({ factor: 2, scale: 1 });
      });
    });
  });
});
