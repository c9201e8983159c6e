// The op registry lives in a tsyringe container, one string token per op name: a child container
// sees its parent's ops through tsyringe's own lookup, and its registrations never reach the parent
// or a sibling, so two runs in one process cannot see each other's ops.
import 'reflect-metadata';
import type { OpDesc } from '@tsnas/descs';
import type { DependencyContainer } from 'tsyringe';
import type { ArchParams } from './arch-params.js';
import type { CreateOp, OpContext, OpFactory } from './factory.js';
import { BUILTIN_OPS, BUILTIN_OWNER } from './builtins.js';
import { DuplicateOpError, UnknownOpError } from './errors.js';
import type { Op } from './op.js';

export type { CreateOp, OpContext, OpFactory } from './factory.js';

export interface OpRegistration {
  name: string;
  factory: OpFactory;
  owner: string;
}

const TOKEN_PREFIX = '@tsnas/ops:op:';
const opToken = (name: string) => `${TOKEN_PREFIX}${name}`;

// Names ever registered in this process: only candidates for error messages and listings; every
// answer is filtered through the container asked, so nothing registered leaks between containers.
const seenNames = new Set<string>();

/** Registers `name` in `container` (not its parent). A name already registered there is an error. */
export function registerOp(
  container: DependencyContainer,
  name: string,
  factory: OpFactory,
  owner = 'anonymous',
): void {
  const token = opToken(name);
  if (container.isRegistered(token, false)) {
    const existing = container.resolve<OpRegistration>(token);
    throw new DuplicateOpError(name, existing.owner, owner);
  }
  container.register<OpRegistration>(token, { useValue: { name, factory, owner } });
  seenNames.add(name);
}

/** Registers a table of ops (a plug-in's `ops`) in `container`, all owned by `owner`. */
export function registerOps(
  container: DependencyContainer,
  ops: Readonly<Record<string, OpFactory>>,
  owner: string,
): void {
  for (const [name, factory] of Object.entries(ops)) registerOp(container, name, factory, owner);
}

/** Registers every built-in op in `container`, owned by '@tsnas/ops'. Optional: see `findOp`. */
export function registerBuiltinOps(container: DependencyContainer): void {
  for (const [name, factory] of Object.entries(BUILTIN_OPS))
    registerOp(container, name, factory, BUILTIN_OWNER);
}

/**
 * The registration `container` (or an ancestor) holds for `name`; built-ins are the implicit
 * bottom layer, so they work in any container without `registerBuiltinOps`.
 */
export function findOp(container: DependencyContainer, name: string): OpRegistration | null {
  const token = opToken(name);
  if (container.isRegistered(token, true)) return container.resolve<OpRegistration>(token);
  const builtin = Object.hasOwn(BUILTIN_OPS, name) ? BUILTIN_OPS[name] : undefined;
  return builtin ? { name, factory: builtin, owner: BUILTIN_OWNER } : null;
}

/** Every op name `container` can create, sorted. */
export function registeredOps(container: DependencyContainer): string[] {
  const names = new Set(Object.keys(BUILTIN_OPS));
  for (const n of seenNames) if (container.isRegistered(opToken(n), true)) names.add(n);
  return [...names].sort();
}

/** Archai's `Op.create`: build the op, then load any trainables its desc carries. */
export function createOp(
  container: DependencyContainer,
  desc: OpDesc,
  affine: boolean,
  archParams: ArchParams | null = null,
): Op {
  const reg = findOp(container, desc.name);
  if (!reg) throw new UnknownOpError(desc.name, registeredOps(container));
  const create: CreateOp = (d, a = affine, ap = null) => createOp(container, d, a, ap);
  const ctx: OpContext = { affine, archParams, create };
  const op = reg.factory(desc, ctx);
  op.desc = desc;
  if (desc.trainables) op.setTrainables(desc.trainables);
  return op;
}
