// The shape of an op factory, in a module of its own: the registry and the built-in table both use
// it, and neither imports the other for it.
import type { OpDesc } from '@tsnas/descs';
import type { DependencyContainer } from 'tsyringe';
import type { ArchParams } from './arch-params.js';
import type { Op } from './op.js';

/** Builds an op from its desc through the registry that is building the caller. */
export type CreateOp = (desc: OpDesc, affine: boolean, archParams?: ArchParams | null) => Op;

/**
 * Builds an op from its desc. Composite ops (a MixedOp's primitives) build their children with
 * `create`, which goes through the same registry; `container` is that registry, for factories
 * that resolve other things from it.
 */
export type OpFactory = (
  desc: OpDesc,
  affine: boolean,
  archParams: ArchParams | null,
  container: DependencyContainer,
  create: CreateOp,
) => Op;
