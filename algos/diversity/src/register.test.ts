import { BilevelArchTrainer } from '@tsnas/algo-darts';
import {
  ARCH_TRAINER,
  createRunContainer,
  FINALIZERS,
  loadRunConfig,
  type FinalizerRegistry,
  MODEL_DESC_BUILDER,
  type PhaseContext,
  SEARCHER,
  Searcher,
} from '@tsnas/runner';
import { Trainer } from '@tsnas/trainer';
import { describe, expect, it } from 'vitest';
import { DivnasModelDescBuilder } from './builder.js';
import { readDivnasConf } from './conf.js';
import plugin from './index.js';

const source = {
  plugin,
  packageName: '@tsnas/algo-diversity',
  version: '0.0.0',
  origin: 'built-in' as const,
};

/** The run's container for a profile whose nas.search is `search` (the plug-in's register reads it). */
function containerWith(search: Record<string, unknown>) {
  return createRunContainer(source, { nas: { search } } as unknown as PhaseContext['conf']);
}

const BILEVEL = { finalizer: 'mi_ranked', divnas: { sigma: 10, archtrainer: 'bilevel' } };

function errorOf(fn: () => unknown): Error & { exitCode?: number } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('the diversity plug-in', () => {
  it('registers div_op, the DivNAS builder, bilevel training and the mi finalizers', () => {
    const c = containerWith(BILEVEL);
    expect(c.resolve(MODEL_DESC_BUILDER)).toBeInstanceOf(DivnasModelDescBuilder);
    expect(c.resolve<DivnasModelDescBuilder>(MODEL_DESC_BUILDER).noalpha).toBe(false);
    expect(c.resolve(ARCH_TRAINER)).toBe(BilevelArchTrainer);
    // The runner's own Searcher: the divnas settings are applied up front, not during the search.
    expect(c.resolve(SEARCHER)).toBeInstanceOf(Searcher);
    expect(c.resolve<FinalizerRegistry>(FINALIZERS).names()).toEqual([
      'default',
      'random',
      'mi',
      'mi_ranked',
    ]);
  });

  it('needs the resolved profile to make its container', () => {
    expect(() => createRunContainer(source)).toThrow(
      /register\(container, conf\) needs the resolved profile/,
    );
  });

  it("rejects archtrainer 'noalpha' with the default finalizer, naming both keys (exit code 2)", () => {
    const e = errorOf(() =>
      containerWith({ finalizer: 'default', divnas: { sigma: 10, archtrainer: 'noalpha' } }),
    );
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('nas.search.divnas.archtrainer');
    expect(e.message).toContain("nas.search.finalizer is 'default'");
    // mi_ranked ranks by alpha too.
    const r = errorOf(() =>
      containerWith({ finalizer: 'mi_ranked', divnas: { sigma: 10, archtrainer: 'noalpha' } }),
    );
    expect(r.exitCode).toBe(2);
  });

  it("'noalpha' with mi builds alpha-free DivOps and trains with the plain trainer", () => {
    const c = containerWith({ finalizer: 'mi', divnas: { sigma: 10, archtrainer: 'noalpha' } });
    expect(c.resolve(ARCH_TRAINER)).toBe(Trainer);
    expect(c.resolve<DivnasModelDescBuilder>(MODEL_DESC_BUILDER).noalpha).toBe(true);
  });

  it('unknown finalizers and bad divnas sections fail when the container is made', () => {
    const e = errorOf(() =>
      containerWith({ finalizer: 'mii', divnas: { sigma: 1, archtrainer: 'bilevel' } }),
    );
    expect(e).toMatchObject({ exitCode: 2, message: expect.stringContaining("unknown finalizer 'mii'") });
    expect(errorOf(() => containerWith({ finalizer: 'mi' })).message).toMatch(
      /^nas\.search\.divnas: expected a mapping/,
    );
  });

  it('checks nas.search.divnas values', () => {
    expect(readDivnasConf({ divnas: { sigma: 168, archtrainer: 'bilevel' } })).toEqual({
      sigma: 168,
      archtrainer: 'bilevel',
    });
    expect(readDivnasConf({ divnas: { sigma: 'median', archtrainer: 'noalpha' } }).sigma).toBe('median');
    expect(errorOf(() => readDivnasConf({ divnas: { sigma: 0, archtrainer: 'bilevel' } })).message).toMatch(
      /nas\.search\.divnas\.sigma: expected a number > 0.*got 0/,
    );
    expect(errorOf(() => readDivnasConf({ divnas: { sigma: 1, archtrainer: 'adam' } })).message).toMatch(
      /nas\.search\.divnas\.archtrainer: expected one of bilevel, noalpha, got "adam"/,
    );
    expect(errorOf(() => readDivnasConf({})).exitCode).toBe(2);
  });

  it('ships valid default, full and toy profiles with a divnas section', async () => {
    const expected = { default: ['median', 4], full: [168, 16], toy: [4, 4] } as const;
    for (const profile of ['default', 'full', 'toy'] as const) {
      const { tree } = await loadRunConfig({
        algo: plugin,
        profile,
        configFiles: [],
        overrides: [],
        cwd: process.cwd(),
        noUserConfig: true,
      });
      const search = (tree as any).nas.search;
      expect(search.finalizer).toBe('mi_ranked');
      expect(readDivnasConf(search)).toEqual({ sigma: expected[profile][0], archtrainer: 'bilevel' });
      expect(search.model_desc.model_stems.init_node_ch).toBe(expected[profile][1]);
      if (profile === 'full') {
        expect(search.trainer.epochs).toBe(50);
        expect((tree as any).nas.eval.loader.train_batch).toBe(68);
        expect((tree as any).dataset.name).toBe('cifar10');
      }
    }
  });
});
