/**
 * A Redis connection to the test run's private redis-server (MAILWAY_TEST_REDIS_URL, started by
 * the vitest global setup) and a key prefix of the test file's own; every key under the prefix
 * is deleted and the connection closed after the file.
 */
import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import { Redis } from 'ioredis';

/** A Redis client and prefix for this file, cleaned up after it. */
export function testRedis(): { redis: Redis; prefix: string } {
  const redis = new Redis(process.env.MAILWAY_TEST_REDIS_URL!);
  const prefix = `mailway-test:${randomUUID()}:`;
  afterAll(async () => {
    const found = await scanAll(redis, `${prefix}*`);
    if (found.length > 0) await redis.del(...found);
    await redis.quit();
  });
  return { redis, prefix };
}

/** Every key matching `pattern`. */
export async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/**
 * Deletes every key an agent wrote under `prefix` (e.g. `mailway-test:…:`): its own keys and
 * BullMQ's, which BullMQ keeps under the prefix without its trailing colon.
 */
export async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  const found = [...(await scanAll(redis, `${prefix}*`)), ...(await scanAll(redis, `${prefix.replace(/:+$/, '')}:*`))];
  const unique = [...new Set(found)];
  if (unique.length > 0) await redis.del(...unique);
}
