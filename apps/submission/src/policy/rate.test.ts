import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate.js';

const redis = new Redis(process.env.MAILWAY_TEST_REDIS_URL ?? '');
const prefix = `mailway-test:${randomUUID()}:`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('hourly message limit', () => {
  it('counts locally at once and in Redis after a flush', async () => {
    const limiter = createRateLimiter(redis, prefix, 3, { flushMs: 10_000 });
    for (let i = 0; i < 3; i += 1) {
      expect(await limiter.exceeded('a@example.org')).toBe(false);
      limiter.count('a@example.org');
    }
    expect(await limiter.exceeded('a@example.org')).toBe(true);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await limiter.flush();
    const [key] = await redis.keys(`${prefix}submission:rate:*`);
    expect(await redis.get(key ?? '')).toBe('3');
    expect(await redis.pttl(key ?? '')).toBeGreaterThan(3600_000);
  });

  it('shares the count between instances once their view is stale', async () => {
    const one = createRateLimiter(redis, prefix, 4, { staleMs: 0 });
    const two = createRateLimiter(redis, prefix, 4, { staleMs: 0 });
    for (let i = 0; i < 2; i += 1) one.count('b@example.org');
    for (let i = 0; i < 2; i += 1) two.count('b@example.org');
    expect(await one.exceeded('b@example.org')).toBe(false);
    await Promise.all([one.flush(), two.flush()]);
    expect(await one.exceeded('b@example.org')).toBe(true);
    expect(await two.exceeded('b@example.org')).toBe(true);
    expect(await one.exceeded('c@example.org')).toBe(false);
  });

  it('never limits when the allowance is 0', async () => {
    const unlimited = createRateLimiter(redis, prefix, 0);
    for (let i = 0; i < 10; i += 1) unlimited.count('d@example.org');
    expect(await unlimited.exceeded('d@example.org')).toBe(false);
  });
});
