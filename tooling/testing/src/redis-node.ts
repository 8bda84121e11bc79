/**
 * One command (or a few) to one redis-server or sentinel by port: a direct connection that
 * never retries, opened for the call and closed after it. For the cluster and Sentinel set-ups,
 * whose nodes come and go under test.
 */
import { Redis } from 'ioredis';

/** Runs `use` on a fresh connection to 127.0.0.1:`port`; rejects at once when nothing answers there. */
export async function onRedisNode<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}
