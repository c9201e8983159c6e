// The `nas.search.divnas` section (Archai's key names): sigma of the RBF kernel, and whether the
// supernet trains alphas (`bilevel`, DARTS' bilevel step) or has none (`noalpha`, plain training).
import { UsageError } from '@tsnas/runner';
import type { SigmaSetting } from './kernel.js';

export const ARCH_TRAINERS = ['bilevel', 'noalpha'] as const;
export type DivnasArchTrainerName = (typeof ARCH_TRAINERS)[number];

export interface DivnasConf {
  /** RBF kernel width, or 'median': per node, the median distance between its ops' outputs. */
  sigma: SigmaSetting;
  archtrainer: DivnasArchTrainerName;
}

export const DIVNAS_KEY = 'nas.search.divnas';

/** Finalizers that rank ops by their alphas, so they cannot follow a `noalpha` search. */
export const ALPHA_RANKED_FINALIZERS = ['default', 'mi_ranked'] as const;

/** Reads and checks `nas.search.divnas` from the resolved `nas.search` section. */
export function readDivnasConf(searchConf: any): DivnasConf {
  const section = searchConf?.divnas;
  if (section === null || typeof section !== 'object' || Array.isArray(section)) {
    throw new UsageError(
      `${DIVNAS_KEY}: expected a mapping with sigma and archtrainer, got ${JSON.stringify(section ?? null)}`,
    );
  }
  const { sigma, archtrainer } = section;
  if (sigma !== 'median' && (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma <= 0)) {
    throw new UsageError(
      `${DIVNAS_KEY}.sigma: expected a number > 0 (the RBF kernel width) or 'median' (per node, the median distance between op outputs), got ${JSON.stringify(sigma ?? null)}`,
    );
  }
  if (!ARCH_TRAINERS.includes(archtrainer)) {
    throw new UsageError(
      `${DIVNAS_KEY}.archtrainer: expected one of ${ARCH_TRAINERS.join(', ')}, got ${JSON.stringify(archtrainer ?? null)}`,
    );
  }
  return { sigma, archtrainer };
}

/**
 * Archai's config check, widened: with `noalpha` there are no alphas, so a finalizer that ranks by
 * them (Archai names only `default`; `mi_ranked` needs them too) is an error.
 */
export function checkFinalizerFor(conf: DivnasConf, finalizer: string): void {
  if (conf.archtrainer !== 'noalpha') return;
  if ((ALPHA_RANKED_FINALIZERS as readonly string[]).includes(finalizer)) {
    throw new UsageError(
      `${DIVNAS_KEY}.archtrainer is 'noalpha' (no alphas are trained), but nas.search.finalizer is '${finalizer}', ` +
        'which ranks ops by their alphas; set nas.search.finalizer=mi (or random), or nas.search.divnas.archtrainer=bilevel',
    );
  }
}
