/**
 * The Redis connection of a management command, with an error that says what to do when
 * nothing answers.
 */
import type { Redis } from 'ioredis';
import { createRedis, describeRedis, waitForRedis } from '@mailway/queue/redis';
import { redisSettingsOf } from './local.js';

/**
 * Connect to the agents' Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES, else the local
 * Redis of `mailway start`), or to the server `url` names when given (the one a running stack
 * recorded); run `work`; disconnect.
 */
export async function withRedis<T>(work: (redis: Redis, prefix: string) => Promise<T>, url?: string): Promise<T> {
  const settings = redisSettingsOf();
  // A recorded URL names one server; sentinels and cluster nodes are found through the settings.
  const oneServer = url !== undefined && /^rediss?:\/\//.test(url) && settings.sentinels.length === 0 && settings.clusterNodes.length === 0;
  const redis = createRedis(oneServer ? { ...settings, url } : settings, { role: 'command', name: 'mailway-cli' });
  const where = describeRedis(redis);
  redis.on('error', () => {});
  try {
    try {
      await waitForRedis(redis, 3_000);
    } catch {
      throw new Error(`cannot reach Redis at ${where}: is \`mailway start\` running? (or set REDIS_URL)`);
    }
    return await work(redis, settings.prefix);
  } finally {
    redis.disconnect();
  }
}
