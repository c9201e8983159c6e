// What ties a queue to its experiment: the queue's name (from the experiment folder), the Redis keys
// where runners announce their queues to workers, and a token file in the experiment folder by
// which a worker tells whether it sees the runner's folder (shared disk) or another one.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '@tsnas/backend';

/** Redis hash: queue name -> JSON {exp_dir, host, created}; every experiment ever queued. */
export const EXPERIMENTS_KEY = 'tsnas:experiments';
/** Redis set of the queues with trials to run: what workers listen to. */
export const ACTIVE_KEY = 'tsnas:experiments:active';
/** The file in the experiment folder naming its queue and token. */
export const QUEUE_FILE = 'trials-queue.json';

export interface QueueLink {
  queue: string;
  /** Random, made once per experiment folder: a job carrying it belongs to this folder. */
  token: string;
  redis: string;
}

/**
 * The queue of an experiment: its folder's name plus a hash of the full path, so two experiments
 * named alike in different places do not share a queue. BullMQ refuses ':' in queue names.
 */
export function queueNameFor(expDir: string): string {
  const abs = resolve(expDir);
  const name =
    basename(abs)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 60) || 'experiment';
  return `${name}-${createHash('sha1').update(abs).digest('hex').slice(0, 8)}`;
}

/** The folder's link, written on first use (the token survives reruns with the same --exp-dir). */
export async function queueLink(expDir: string, redis: string): Promise<QueueLink> {
  const file = join(expDir, QUEUE_FILE);
  if (existsSync(file)) {
    const link = JSON.parse(readFileSync(file, 'utf8')) as QueueLink;
    if (link.redis !== redis) {
      link.redis = redis;
      await writeFileAtomic(file, `${JSON.stringify(link, null, 2)}\n`);
    }
    return link;
  }
  const link: QueueLink = { queue: queueNameFor(expDir), token: randomUUID(), redis };
  await writeFileAtomic(file, `${JSON.stringify(link, null, 2)}\n`);
  return link;
}

/** True when `expDir` on this machine is the runner's folder (the same token is in it). */
export function seesExperiment(expDir: string, token: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(expDir, QUEUE_FILE), 'utf8')) as QueueLink).token === token;
  } catch {
    return false;
  }
}
