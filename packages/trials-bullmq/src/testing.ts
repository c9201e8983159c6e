// For tests: a Redis to run against. TSNAS_REDIS_URL when set; otherwise a private redis-server on
// a free loopback port (stopped by stop()); otherwise a reason to skip, said out loud.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { checkRedis } from './redis.js';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A Redis for tests, or the reason there is none (then the caller skips, printing it). */
export async function startTestRedis(): Promise<TestRedis | { skip: string }> {
  const given = process.env.TSNAS_REDIS_URL;
  if (given) {
    await checkRedis(given, { what: 'TSNAS_REDIS_URL' });
    return { url: given, stop: async () => {} };
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    return {
      skip: 'no Redis: TSNAS_REDIS_URL is unset and redis-server is not on PATH (apt-get install redis-server)',
    };
  }
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await checkRedis(url, { timeoutMs: 500 });
      break;
    } catch (e) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not start: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
