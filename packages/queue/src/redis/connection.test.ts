import { once } from 'node:events';
import { afterEach, describe, it, expect } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis } from '@mailway/vitest-config/redis';
import { createRedis, describeRedis } from './connection.js';
import { waitForRedis } from './wait.js';

const url = process.env.MAILWAY_TEST_REDIS_URL!;
const clients: Redis[] = [];

/** createRedis, closed after the test. */
function client(...args: Parameters<typeof createRedis>): Redis {
  const redis = createRedis(...args);
  redis.on('error', () => {}); // connection errors are what some tests provoke
  clients.push(redis);
  return redis;
}

afterEach(() => {
  for (const redis of clients.splice(0)) redis.disconnect();
});

describe('createRedis', () => {
  it('names the connection (spaces replaced) for CLIENT LIST', async () => {
    const redis = client(url, { name: 'mailway submission' });
    await waitForRedis(redis);
    expect(await redis.client('GETNAME')).toBe('mailway-submission');
  });

  it('command role: fails at once while Redis is down instead of queueing', async () => {
    const server = await startRedis();
    const redis = client(server.url, { role: 'command' });
    try {
      await waitForRedis(redis);
      expect(await redis.ping()).toBe('PONG');
    } finally {
      await server.stop();
    }
    await expect(redis.set('mailway-test:never', '1')).rejects.toThrow();
  });

  it('worker role: waits out an outage, as BullMQ needs', async () => {
    const redis = client(url, { role: 'worker' });
    expect(redis.options.maxRetriesPerRequest).toBeNull();
    expect(redis.options.enableOfflineQueue).toBe(true);
    // Queued before the connection is ready, answered once it is.
    expect(await redis.ping()).toBe('PONG');
  });
});

describe('waitForRedis', () => {
  it('rejects after the timeout, naming the URL without the password', async () => {
    const server = await startRedis();
    await server.stop(); // a port where nothing listens now
    const redis = client(`redis://mailway:s3cret-pw@127.0.0.1:${server.port}/2`);
    const error = (await waitForRedis(redis, 300).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toContain(`redis://mailway@127.0.0.1:${server.port}/2 is not ready after 300 ms`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toContain('s3cret');
  });

  it('rejects for a closed client', async () => {
    const redis = client(url);
    await waitForRedis(redis);
    const ended = once(redis, 'end');
    await redis.quit();
    await ended;
    await expect(waitForRedis(redis)).rejects.toThrow(/closed/);
  });

  it('describes a client without its password', () => {
    const redis = client('rediss://user:pw@redis.example.org:6380/1');
    redis.disconnect();
    expect(describeRedis(redis)).toBe('rediss://user@redis.example.org:6380/1');
  });
});
