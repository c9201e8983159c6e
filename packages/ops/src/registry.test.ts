import 'reflect-metadata';
import * as tf from '@tensorflow/tfjs-core';
import { OpDesc } from '@tsnas/descs';
import { container } from 'tsyringe';
import { beforeAll, describe, expect, it } from 'vitest';
import { opDesc, ramp, useCpu } from './__tests__/fixtures.js';
import { PRIMITIVES, type TestMixedOp, testMixedOpFactory } from './__tests__/mixed-op.js';
import {
  createOp,
  DuplicateOpError,
  findOp,
  Identity,
  type OpFactory,
  registerBuiltinOps,
  registeredOps,
  registerOp,
  SepConv,
  UnknownOpError,
} from './index.js';

beforeAll(useCpu);

const identityFactory: OpFactory = (d) => new Identity(d);

describe('op registry scoped to a DI container', () => {
  it('a child sees its parent ops; its own registrations reach neither the parent nor a sibling', () => {
    const root = container.createChildContainer();
    registerOp(root, 'root_op', identityFactory, 'root-plugin');
    const runA = root.createChildContainer();
    const runB = root.createChildContainer();
    registerOp(runA, 'a_only', identityFactory, 'plugin-a');

    expect(findOp(runA, 'root_op')?.owner).toBe('root-plugin');
    expect(findOp(runB, 'root_op')?.owner).toBe('root-plugin');
    expect(findOp(runA, 'a_only')?.owner).toBe('plugin-a');
    expect(findOp(runB, 'a_only')).toBeNull();
    expect(findOp(root, 'a_only')).toBeNull();
    expect(registeredOps(runA)).toContain('a_only');
    expect(registeredOps(runB)).not.toContain('a_only');
    expect(() => createOp(runB, opDesc('a_only', 2, 2), true)).toThrow(UnknownOpError);

    // The same name in two sibling runs is fine: each run has its own.
    registerOp(runB, 'a_only', (d) => new Identity(d), 'plugin-b');
    expect(findOp(runB, 'a_only')?.owner).toBe('plugin-b');
    expect(findOp(runA, 'a_only')?.owner).toBe('plugin-a');
  });

  it('registering a name twice in one container names the op and both owners', () => {
    const c = container.createChildContainer();
    registerOp(c, 'mixed_op', testMixedOpFactory, '@tsnas/algo-darts');
    let err: unknown;
    try {
      registerOp(c, 'mixed_op', testMixedOpFactory, 'tsnas-algo-other');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DuplicateOpError);
    expect((err as DuplicateOpError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/'mixed_op'.*'@tsnas\/algo-darts'.*'tsnas-algo-other'/);
    // A child may override its parent's registration.
    const child = c.createChildContainer();
    expect(() => registerOp(child, 'mixed_op', testMixedOpFactory, 'override')).not.toThrow();
  });

  it('built-ins work without registration; registerBuiltinOps makes them clash like any other op', () => {
    const c = container.createChildContainer();
    expect(createOp(c, opDesc('sep_conv_3x3', 2, 2), true)).toBeInstanceOf(SepConv);
    registerBuiltinOps(c);
    expect(findOp(c, 'sep_conv_3x3')?.owner).toBe('@tsnas/ops');
    expect(() => registerOp(c, 'sep_conv_3x3', identityFactory, 'mine')).toThrow(
      /'sep_conv_3x3'.*'@tsnas\/ops'.*'mine'/,
    );
  });

  it('an unknown op is a user error (exitCode 2) naming it and listing the registered ops', () => {
    const c = container.createChildContainer();
    registerOp(c, 'div_op', identityFactory, 'plugin');
    let err: unknown;
    try {
      createOp(c, new OpDesc('sep_conv_9x9', {}, 1), true);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownOpError);
    expect((err as UnknownOpError).exitCode).toBe(2);
    const msg = (err as Error).message;
    expect(msg).toContain("unknown op 'sep_conv_9x9'");
    for (const name of ['div_op', 'sep_conv_3x3', 'skip_connect', 'none', 'linear'])
      expect(msg).toContain(name);
  });

  it("a plug-in's mixed_op creates its primitives through the registry of its run", () => {
    const run = container.createChildContainer();
    registerOp(run, 'mixed_op', testMixedOpFactory, '@tsnas/algo-darts');
    // This run swaps in its own sep_conv_3x3: the mixed op must pick it up.
    registerOp(run, 'sep_conv_3x3', identityFactory, 'experiment');
    const op = createOp(run, opDesc('mixed_op', 4, 4, 1), false) as TestMixedOp;
    expect(op.prims.items.map((p) => p.desc.name)).toEqual(PRIMITIVES);
    expect(op.prims.items[3]).toBeInstanceOf(Identity);
    const other = createOp(container.createChildContainer(), opDesc('sep_conv_3x3', 4, 4), false);
    expect(other).toBeInstanceOf(SepConv);
    const y = tf.tidy(() => op.forward(ramp([2, 6, 6, 4]), true).shape);
    expect(y).toEqual([2, 6, 6, 4]);
    expect(op.archParams()?.get('alphas').shape).toEqual([8]);
  });
});
