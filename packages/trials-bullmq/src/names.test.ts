import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@tsnas/runner';
import { describe, expect, it } from 'vitest';
import { QUEUE_FILE, queueLink, queueNameFor, seesExperiment } from './names.js';
import { checkRedis, parseRedisUrl, redactUrl } from './redis.js';

describe('queue names', () => {
  it('name the experiment folder, differ by full path, and hold no ":" (BullMQ refuses it)', () => {
    const a = queueNameFor('/runs/darts: cifar');
    expect(a).toMatch(/^darts__cifar-[0-9a-f]{8}$/);
    expect(queueNameFor('/other/darts: cifar')).not.toBe(a);
    expect(queueNameFor('/runs/darts: cifar/')).toBe(a);
  });

  it('a folder keeps its token across reruns; another folder does not see it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnas-link-'));
    const link = await queueLink(dir, 'redis://h:1');
    expect(link.queue).toBe(queueNameFor(dir));
    expect((await queueLink(dir, 'redis://h:1')).token).toBe(link.token);
    expect(JSON.parse(readFileSync(join(dir, QUEUE_FILE), 'utf8')).token).toBe(link.token);
    expect(seesExperiment(dir, link.token)).toBe(true);
    expect(seesExperiment(dir, 'another-token')).toBe(false);
    expect(seesExperiment(mkdtempSync(join(tmpdir(), 'tsnas-link-')), link.token)).toBe(false);
  });
});

describe('Redis URLs', () => {
  it('print without their password', () => {
    expect(redactUrl('redis://:s3cret@host:6379')).toBe('redis://:***@host:6379');
    expect(redactUrl('redis://host:6379')).toBe('redis://host:6379');
  });

  it('must be redis:// or rediss:// with a host', () => {
    expect(parseRedisUrl('rediss://host:6380')).toBe('rediss://host:6380');
    expect(() => parseRedisUrl('http://host:6379')).toThrow(
      "--trials: expected a redis://HOST:PORT URL, got 'http://host:6379'",
    );
    expect(() => parseRedisUrl('host:6379', 'nas worker')).toThrow(UsageError);
  });

  it('an unreachable server is a UsageError naming the URL, within the timeout', async () => {
    const t0 = Date.now();
    const err = await checkRedis('redis://:pw@127.0.0.1:1', { timeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toContain('cannot reach Redis at redis://:***@127.0.0.1:1');
    expect(err.message).not.toContain('pw');
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
