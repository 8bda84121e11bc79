/**
 * Test fixture: a Redis connection to the run's private redis-server and a key prefix of the
 * test file's own (@mailway/testing/redis), and directories on prefixes of their own.
 */
import { randomUUID } from 'node:crypto';
import { testRedis } from '@mailway/testing/redis';
import { createDirectory, type Directory, type DirectoryOptions } from '../src/index.js';

export { scanAll, testRedis } from '@mailway/testing/redis';

/** A directory on its own fresh prefix (several per file keep tests independent). */
export function directoryFactory(): (options?: DirectoryOptions) => Directory {
  const { redis, prefix } = testRedis();
  return (options = {}) => createDirectory(redis, { prefix: `${prefix}${randomUUID()}:`, ...options });
}
