// A thread that keeps the lock of the trial in training. Training runs synchronous tensor code on
// the worker's main thread for seconds at a time, where BullMQ's own timer-driven renewal cannot
// run: the lock would lapse and a live worker's trial be handed to a second worker. This thread's
// event loop is never blocked by training; when the process dies, the lock lapses as it should.
import { parentPort, workerData } from 'node:worker_threads';
import { Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';

export type LockKeeperMessage =
  | { kind: 'keep'; queue: string; jobId: string; token: string }
  | { kind: 'release'; jobId: string }
  | { kind: 'exit' };

const { url, lockDuration } = workerData as { url: string; lockDuration: number };
const connection = new Redis(url, { maxRetriesPerRequest: null });
const queues = new Map<string, Queue>();
const kept = new Map<string, NodeJS.Timeout>();
/** Jobs released while their Job was still being read (messages are handled concurrently). */
const released = new Set<string>();

function queueOf(name: string): Queue {
  let q = queues.get(name);
  if (!q) {
    q = new Queue(name, { connection });
    queues.set(name, q);
  }
  return q;
}

parentPort!.on('message', async (m: LockKeeperMessage) => {
  if (m.kind === 'keep') {
    released.delete(m.jobId);
    const job = await Job.fromId(queueOf(m.queue), m.jobId);
    if (!job || released.delete(m.jobId)) return;
    const renew = () => {
      job
        .extendLock(m.token, lockDuration)
        .catch((e: Error) => parentPort!.postMessage({ error: e.message }));
    };
    renew();
    kept.set(m.jobId, setInterval(renew, Math.max(250, lockDuration / 3)));
  } else if (m.kind === 'release') {
    if (kept.has(m.jobId)) {
      clearInterval(kept.get(m.jobId));
      kept.delete(m.jobId);
    } else released.add(m.jobId);
  } else {
    for (const t of kept.values()) clearInterval(t);
    await Promise.all([...queues.values()].map((q) => q.close()));
    connection.disconnect();
    parentPort!.close();
  }
});
