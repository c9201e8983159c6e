// Learning-rate schedules stepped once per epoch, as Archai's cosine schedule is.

export interface LrScheduleConf {
  type: string; // 'cosine' | '' (constant)
  min_lr?: number;
  warmup?: { multiplier: number; epochs: number } | null;
}

export class ScheduleConfigError extends Error {
  readonly exitCode = 2;
}

/**
 * The learning rate for a 0-based epoch. Cosine anneals from `baseLr` to `min_lr` over
 * `epochs - warmup` epochs (PyTorch CosineAnnealingLR with T_max = epochs - warmup). Warmup
 * follows GradualWarmupScheduler: multiplier 1 ramps linearly from 0 to baseLr, a multiplier m > 1
 * ramps from baseLr to m*baseLr, and the cosine then starts from the warmed-up rate.
 */
export function lrAt(
  conf: LrScheduleConf | null | undefined,
  baseLr: number,
  epoch: number,
  epochs: number,
): number {
  const type = conf?.type ?? '';
  const warm = conf?.warmup && conf.warmup.epochs > 0 ? conf.warmup : null;
  const mult = warm ? warm.multiplier : 1;
  if (warm && epoch < warm.epochs) {
    return mult === 1 ? (baseLr * epoch) / warm.epochs : baseLr * (((mult - 1) * epoch) / warm.epochs + 1);
  }
  const peak = baseLr * mult;
  if (type === '' || type === 'none') return peak;
  if (type !== 'cosine') {
    throw new ScheduleConfigError(`lr_schedule.type: unknown schedule '${type}', expected 'cosine' or ''`);
  }
  const minLr = conf?.min_lr ?? 0;
  const tMax = Math.max(1, epochs - (warm?.epochs ?? 0));
  const e = epoch - (warm?.epochs ?? 0);
  return minLr + ((peak - minLr) * (1 + Math.cos((Math.PI * e) / tMax))) / 2;
}
