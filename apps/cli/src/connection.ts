/**
 * The Redis connection of a management command, with an error that says what to do when
 * nothing answers.
 */
import type { Redis } from 'ioredis';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { redisUrl } from './local.js';

/** Connect to `url` (REDIS_URL, or the local Redis of `mailway start`); run `work`; disconnect. */
export async function withRedis<T>(work: (redis: Redis, prefix: string) => Promise<T>, url = redisUrl()): Promise<T> {
  const redis = createRedis(url, { role: 'command', name: 'mailway-cli' });
  redis.on('error', () => {});
  try {
    try {
      await waitForRedis(redis, 3_000);
    } catch {
      throw new Error(`cannot reach Redis at ${url}: is \`mailway start\` running? (or set REDIS_URL)`);
    }
    return await work(redis, process.env.MAILWAY_REDIS_PREFIX ?? 'mailway:');
  } finally {
    redis.disconnect();
  }
}
