/**
 * watchRedis against a real redis-server that is killed and started again: "redis connected"
 * once per connection, "redis connection lost" for a real loss only (never for the agent's own
 * QUIT), up() following the connection, and reached() waiting for a Redis that is not there yet,
 * saying so; the gauge `redis_up` and the count of losses following along.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DurableRedis, durableRedis } from '@mailway/vitest-config/redis';
import { createRedis } from './connection.js';
import { watchRedis } from './watch.js';

/** A logger that keeps its lines, and metrics that keep their values. */
function recorder(): { lines: string[]; values: Map<string, number>; logger: Parameters<typeof watchRedis>[1]; metrics: NonNullable<Parameters<typeof watchRedis>[2]> } {
  const lines: string[] = [];
  const values = new Map<string, number>();
  return {
    lines,
    values,
    logger: { info: (message) => lines.push(message), warn: (_fields, message) => lines.push(message), debug: () => {} },
    metrics: {
      gauge: (name) => ({ set: (value) => values.set(name, value) }),
      counter: (name) => ({ inc: () => values.set(name, (values.get(name) ?? 0) + 1) }),
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('watchRedis', () => {
  let redis: DurableRedis;
  beforeAll(async () => {
    redis = await durableRedis();
  });
  afterAll(async () => {
    await redis.remove();
  });

  it('waits for a Redis that is not there yet, saying so, and is up once it comes', async () => {
    const { lines, logger } = recorder();
    const watch = watchRedis(createRedis(redis.url), logger);
    let reached = false;
    void watch.reached().then(() => (reached = true));
    await until(() => lines.includes('waiting for redis; sessions get 421 until it answers'));
    expect(reached).toBe(false);
    expect(watch.up()).toBe(false);

    await redis.start();
    await until(() => reached);
    expect(watch.up()).toBe(true);
    expect(lines.filter((line) => line === 'redis connected')).toHaveLength(1);
    await watch.close();
  });

  it('says "connection lost" when Redis dies, and not when the agent quits', async () => {
    // Redis is running: the test above started it.
    const { lines, values, logger, metrics } = recorder();
    const watch = watchRedis(createRedis(redis.url), logger, metrics);
    await watch.reached();
    expect(values.get('redis_up')).toBe(1);

    await redis.kill();
    await until(() => !watch.up());
    expect(lines).toContain('redis connection lost; new messages get 451 until it is back');
    expect(values.get('redis_up')).toBe(0);
    expect(values.get('redis_connection_losses_total')).toBe(1);

    await redis.start();
    await until(() => watch.up());
    expect(lines.filter((line) => line === 'redis connected')).toHaveLength(2);

    const before = lines.length;
    await watch.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines.slice(before)).toEqual([]);
    expect(values.get('redis_connection_losses_total')).toBe(1);
  });
});
