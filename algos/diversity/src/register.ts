// DivNAS's settings applied when the run's container is made: `nas.search.divnas` is checked
// against the finalizer before anything is trained, and `archtrainer` picks the supernet (with or
// without alphas) and its trainer up front, so nothing in the container changes mid-run.
import {
  ARCH_TRAINER,
  type FinalizerRegistry,
  FINALIZERS,
  MODEL_DESC_BUILDER,
  type PhaseContext,
  TRAINER,
  type TrainerClass,
  UsageError,
} from '@tsnas/runner';
import type { DependencyContainer } from 'tsyringe';
import { DivnasModelDescBuilder } from './builder.js';
import { checkFinalizerFor, type DivnasConf, readDivnasConf } from './conf.js';

/**
 * The plug-in's `register(container, conf)`: reads `nas.search.divnas` from the resolved profile
 * and, for `archtrainer: noalpha`, registers the alpha-free builder and the plain trainer as the
 * arch trainer. Throws a UsageError (exit code 2) on a bad section or finalizer combination.
 */
export function registerDivnas(c: DependencyContainer, conf: Pick<PhaseContext['conf'], 'nas'>): DivnasConf {
  const searchConf = conf.nas.search;
  const divnas = readDivnasConf(searchConf);
  const finalizer = searchConf.finalizer ?? 'default';
  // Fail now rather than after the search: an unknown finalizer, or one that needs alphas.
  const known = c.resolve<FinalizerRegistry>(FINALIZERS).names();
  if (!known.includes(finalizer)) {
    throw new UsageError(
      `nas.search.finalizer: unknown finalizer '${finalizer}'. Known: ${known.join(', ')}`,
    );
  }
  checkFinalizerFor(divnas, finalizer);
  if (divnas.archtrainer === 'noalpha') {
    // Archai: no alphas in the DivOps and the plain trainer (no architecture step).
    c.register(MODEL_DESC_BUILDER, { useValue: new DivnasModelDescBuilder({ noalpha: true }) });
    const plain = c.resolve<TrainerClass>(TRAINER);
    c.register(ARCH_TRAINER, { useFactory: () => plain });
  }
  return divnas;
}
