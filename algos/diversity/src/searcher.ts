// The search phase with DivNAS's settings applied: `nas.search.divnas` is checked before anything
// is trained, and `archtrainer` picks the supernet (with or without alphas) and its trainer.
import {
  ARCH_TRAINER,
  type FinalizerRegistry,
  FINALIZERS,
  MODEL_DESC_BUILDER,
  type PhaseContext,
  Searcher,
  type SearchResult,
  TRAINER,
  type TrainerClass,
  UsageError,
} from '@tsnas/runner';
import { DivnasModelDescBuilder } from './builder.js';
import { checkFinalizerFor, type DivnasConf, readDivnasConf } from './conf.js';

export class DivnasSearcher extends Searcher {
  override async search(ctx: PhaseContext): Promise<SearchResult> {
    this.configure(ctx);
    return super.search(ctx);
  }

  /**
   * Checks `nas.search.divnas` against the finalizer and registers, in the run's container, the
   * builder and arch trainer the setting asks for. Throws (exit code 2) on a bad combination.
   */
  configure(ctx: Pick<PhaseContext, 'conf' | 'container'>): DivnasConf {
    const searchConf = ctx.conf.nas.search;
    const divnas = readDivnasConf(searchConf);
    const finalizer: string = searchConf.finalizer ?? 'default';
    // Fail now rather than after the search: an unknown finalizer, or one that needs alphas.
    const known = ctx.container.resolve<FinalizerRegistry>(FINALIZERS).names();
    if (!known.includes(finalizer)) {
      throw new UsageError(
        `nas.search.finalizer: unknown finalizer '${finalizer}'. Known: ${known.join(', ')}`,
      );
    }
    checkFinalizerFor(divnas, finalizer);
    if (divnas.archtrainer === 'noalpha') {
      // Archai: no alphas in the DivOps and the plain trainer (no architecture step).
      ctx.container.register(MODEL_DESC_BUILDER, { useValue: new DivnasModelDescBuilder({ noalpha: true }) });
      ctx.container.register(ARCH_TRAINER, { useValue: ctx.container.resolve<TrainerClass>(TRAINER) });
    }
    return divnas;
  }
}
