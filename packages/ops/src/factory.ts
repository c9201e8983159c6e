// The shape of an op factory, in a module of its own: the registry and the built-in table both use
// it, and neither imports the other for it.
import type { OpDesc } from '@tsnas/descs';
import type { ArchParams } from './arch-params.js';
import type { Op } from './op.js';

/**
 * Builds a child op from its desc through the registry that is building the caller. `affine`
 * defaults to the caller's; children get no arch params unless given.
 */
export type CreateOp = (desc: OpDesc, affine?: boolean, archParams?: ArchParams | null) => Op;

/** What an op factory receives besides its desc. */
export interface OpContext {
  /** Whether BatchNorms carry a learned scale and shift (false in search supernets, as Archai). */
  affine: boolean;
  /** Shared architecture parameters (the first cell of a type owns them), or null. */
  archParams: ArchParams | null;
  /** Builds child ops (a MixedOp's primitives) through the same registry. */
  create: CreateOp;
}

/**
 * Builds an op from its desc. Factories see no DI container: composite ops build their children
 * with `create`, so an op works the same in a run and in a worker thread's bare registry.
 */
export type OpFactory = (desc: OpDesc, ctx: OpContext) => Op;
