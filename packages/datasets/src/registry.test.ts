import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.js';
import { BUILTIN_OWNER, createDatasetRegistry, DatasetRegistry } from './registry.js';

describe('DatasetRegistry', () => {
  it('holds the built-in providers with the reference normalisation constants', () => {
    const r = createDatasetRegistry();
    expect(r.names()).toEqual(['cifar10', 'cifar100', 'fashion_mnist', 'mnist', 'synthetic']);
    expect(r.get('fashion_mnist').meta).toMatchObject({
      channels: 1,
      nClasses: 10,
      imageSize: [28, 28],
      mean: [0.28604],
      std: [0.35302],
    });
    expect(r.get('mnist').meta).toMatchObject({ mean: [0.13066], std: [0.30811] });
    expect(r.get('cifar10').meta).toMatchObject({
      channels: 3,
      nClasses: 10,
      imageSize: [32, 32],
      mean: [0.49139968, 0.48215827, 0.44653124],
      std: [0.24703233, 0.24348505, 0.26158768],
    });
    expect(r.get('cifar100').meta).toMatchObject({
      nClasses: 100,
      mean: [0.507, 0.487, 0.441],
      std: [0.267, 0.256, 0.276],
    });
    expect(r.ownerOf('cifar10')).toBe(BUILTIN_OWNER);
  });

  it('a duplicate name throws naming the name and both owners', () => {
    const r = createDatasetRegistry();
    const p = r.get('mnist');
    const err = (() => {
      try {
        r.register('mnist', p, 'tsnas-plugin-x');
      } catch (e) {
        return e as DatasetError;
      }
    })();
    expect(err).toBeInstanceOf(DatasetError);
    expect(err?.exitCode).toBe(2);
    expect(err?.message).toBe(
      "Dataset provider 'mnist' is already registered by '@tsnas/datasets'; 'tsnas-plugin-x' tried to register it again.",
    );
  });

  it('an unknown name throws listing the registered ones', () => {
    const r = new DatasetRegistry()
      .register('b', createDatasetRegistry().get('mnist'), 'me')
      .register('a', createDatasetRegistry().get('mnist'), 'me');
    expect(() => r.get('svhn')).toThrow("Unknown dataset 'svhn'. Registered datasets: a, b.");
    try {
      r.get('svhn');
    } catch (e) {
      expect((e as DatasetError).exitCode).toBe(2);
    }
  });

  it('plug-ins can add providers to a run registry without touching another run', () => {
    const a = createDatasetRegistry();
    const b = createDatasetRegistry();
    a.register('my_set', a.get('synthetic'), 'tsnas-plugin-my');
    expect(a.has('my_set')).toBe(true);
    expect(b.has('my_set')).toBe(false);
  });
});
