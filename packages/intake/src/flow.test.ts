/**
 * The inflow gate against a real Redis: a backlog at or under the limit lets a message through
 * at once; above it, the message waits until the backlog falls, or for the delay and no longer;
 * the sessions waiting at one moment share one reading; a Redis that cannot be read never holds
 * mail back.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { createInflowGate, openGate } from './flow.js';

const prefix = `mailway-test:${randomUUID()}:`;
const waitLists = [`${prefix}transfer:wait`, `${prefix}delivery:wait`];
let redis: Redis;

beforeAll(async () => {
  redis = createRedis(process.env.MAILWAY_TEST_REDIS_URL!, { role: 'command' });
  await waitForRedis(redis);
});
afterAll(async () => {
  await redis.del(...waitLists);
  redis.disconnect();
});

/** `count` waiting jobs spread over the two lists. */
async function backlog(count: number): Promise<void> {
  await redis.del(...waitLists);
  const half = Math.floor(count / 2);
  if (half > 0) await redis.rpush(waitLists[0]!, ...Array.from({ length: half }, (_, i) => `t${i}`));
  if (count - half > 0) await redis.rpush(waitLists[1]!, ...Array.from({ length: count - half }, (_, i) => `d${i}`));
}

describe('inflow gate', () => {
  it('lets a message through at once while the backlog is at the limit', async () => {
    await backlog(10);
    const gate = createInflowGate({ redis, waitLists, backlog: 10, delayMs: 1000 });
    expect(await gate.pass()).toBe(0);
  });

  it('holds a message while the backlog is above the limit, and lets it go once the backlog falls', async () => {
    await backlog(11);
    const gate = createInflowGate({ redis, waitLists, backlog: 10, delayMs: 5000 });
    setTimeout(() => void redis.lpop(waitLists[1]!), 300);
    const waited = await gate.pass();
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(4000);
  });

  it('holds a message no longer than the delay, however long the backlog stays', async () => {
    await backlog(50);
    const gate = createInflowGate({ redis, waitLists, backlog: 10, delayMs: 400 });
    const waited = await gate.pass();
    expect(waited).toBeGreaterThanOrEqual(400);
    expect(waited).toBeLessThan(1500);
  });

  it('reads the backlog once for many sessions asking at the same moment', async () => {
    await backlog(0);
    let reads = 0;
    const counting = new Proxy(redis, {
      get(target, key, receiver) {
        if (key === 'llen') return (list: string) => ((reads += 1), target.llen(list));
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const gate = createInflowGate({ redis: counting, waitLists, backlog: 10, delayMs: 1000, refreshMs: 60_000 });
    expect(await Promise.all(Array.from({ length: 50 }, () => gate.pass()))).toEqual(Array.from({ length: 50 }, () => 0));
    expect(reads).toBe(waitLists.length);
  });

  it('never holds mail back when Redis cannot be read', async () => {
    const gone = createRedis('redis://127.0.0.1:1', { role: 'command' });
    gone.on('error', () => {});
    try {
      const gate = createInflowGate({ redis: gone, waitLists, backlog: 0, delayMs: 5000 });
      expect(await gate.pass()).toBe(0);
    } finally {
      gone.disconnect();
    }
  });

  it('is open when the delay is 0', () => {
    expect(createInflowGate({ redis, waitLists, backlog: 1, delayMs: 0 })).toBe(openGate);
  });
});
