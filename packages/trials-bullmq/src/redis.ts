// Redis URLs and connections. Messages name the URL without its password.
import { UsageError } from '@tsnas/runner';
import { Redis, type RedisOptions } from 'ioredis';

/** BullMQ needs Redis >= 6.2 (its scripts use commands added there). */
export const MIN_REDIS_VERSION = '6.2.0';

/** The URL as it may be printed: any password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** Checks `url` is a redis:// or rediss:// URL with a host; returns it unchanged. */
export function parseRedisUrl(url: string, what = '--trials'): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${what}: expected a redis://HOST:PORT URL, got '${url}'`);
  }
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname) {
    throw new UsageError(`${what}: expected a redis://HOST:PORT URL, got '${redactUrl(url)}'`);
  }
  return url;
}

/** A connection for BullMQ's queues and workers: retries forever, as BullMQ requires. */
export function bullConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null });
}

function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/**
 * Connects once with a short timeout and no retries, and checks the server's version: an
 * unreachable or too old Redis is a UsageError naming the URL (the CLI exits 2), found in seconds
 * rather than after BullMQ's endless reconnects.
 */
export async function checkRedis(
  url: string,
  opts: { timeoutMs?: number; what?: string } = {},
): Promise<string> {
  parseRedisUrl(url, opts.what);
  const timeoutMs = opts.timeoutMs ?? 3000;
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  };
  const client = new Redis(url, options);
  // ioredis also emits connection errors as events; they are reported through connect() below.
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('server');
    const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? '0.0.0';
    if (!versionAtLeast(version, MIN_REDIS_VERSION)) {
      throw new UsageError(
        `Redis at ${redactUrl(url)} is version ${version}; BullMQ needs ${MIN_REDIS_VERSION} or newer`,
      );
    }
    return version;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const err = e as Error & { code?: string };
    throw new UsageError(
      `cannot reach Redis at ${redactUrl(url)}: ${err.code ?? err.message} (is redis-server running there? start one with \`redis-server --port PORT\`)`,
    );
  } finally {
    client.disconnect();
  }
}
