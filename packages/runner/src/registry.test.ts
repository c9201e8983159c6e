import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { createRunContainer } from './experiment.js';
import { DefaultFinalizers, type FinalizerRegistry, RandomFinalizers } from './finalizers.js';
import { defineAlgo } from './plugin.js';
import { AlgoRegistry } from './registry.js';
import { ARCH_TRAINER, FINALIZERS, MODEL_DESC_BUILDER } from './tokens.js';

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
