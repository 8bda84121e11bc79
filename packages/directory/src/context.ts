/**
 * What the directory's read paths share: the Redis client, the key layout and the
 * sub-address separator chosen at createDirectory.
 */
import type { Redis } from 'ioredis';
import type { DirectoryKeys } from './keys.js';

/** The Redis client, key names and sub-address separator of one directory. */
export interface DirectoryContext {
  readonly redis: Redis;
  readonly keys: DirectoryKeys;
  readonly separator: string;
}
