// `nas trials`: what each experiment queue holds, read from Redis (no worker or runner needed).
import { Queue } from 'bullmq';
import type { TrialJobData, TrialJobResult, TrialProgress } from './job.js';
import { USAGE_PREFIX } from './job.js';
import { ACTIVE_KEY, EXPERIMENTS_KEY } from './names.js';
import { bullConnection, checkRedis } from './redis.js';

export interface QueueStatus {
  queue: string;
  exp_dir: string | null;
  host: string | null;
  /** Runners still wait for trials of this queue (workers listen to it). */
  listening: boolean;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  running: { id: string; worker: string | null; epoch: number | null; epochs: number | null }[];
  failures: { id: string; reason: string }[];
}

/** Every experiment queue ever announced on this Redis, newest first. */
export async function trialsStatus(url: string): Promise<QueueStatus[]> {
  await checkRedis(url, { what: 'nas trials' });
  const connection = bullConnection(url);
  try {
    const known = await connection.hgetall(EXPERIMENTS_KEY);
    const active = new Set(await connection.smembers(ACTIVE_KEY));
    const out: (QueueStatus & { created: string })[] = [];
    for (const [queue, raw] of Object.entries(known)) {
      let info: { exp_dir?: string; host?: string; created?: string } = {};
      try {
        info = JSON.parse(raw);
      } catch {}
      const q = new Queue<TrialJobData, TrialJobResult>(queue, { connection });
      try {
        const c = await q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed');
        const running = await Promise.all(
          (await q.getActive()).map(async (j) => {
            const p = j.progress as unknown as TrialProgress | number;
            const e = typeof p === 'object' && p !== null ? (p.event as any) : null;
            return {
              id: String(j.id),
              worker: (typeof p === 'object' && p?.worker) || j.processedBy || null,
              epoch: typeof e?.epoch === 'number' ? e.epoch + (e.kind === 'epoch_end' ? 1 : 0) : null,
              epochs: typeof e?.epochs === 'number' ? e.epochs : null,
            };
          }),
        );
        const failures = (await q.getFailed()).map((j) => ({
          id: String(j.id),
          reason: (j.failedReason ?? '').replace(USAGE_PREFIX, '').split('\n')[0],
        }));
        out.push({
          queue,
          exp_dir: info.exp_dir ?? null,
          host: info.host ?? null,
          created: info.created ?? '',
          listening: active.has(queue),
          waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
          active: c.active ?? 0,
          delayed: c.delayed ?? 0,
          completed: c.completed ?? 0,
          failed: c.failed ?? 0,
          running,
          failures,
        });
      } finally {
        await q.close();
      }
    }
    out.sort((a, b) => b.created.localeCompare(a.created));
    return out.map(({ created: _, ...s }) => s);
  } finally {
    connection.disconnect();
  }
}
