/**
 * @module @mailway/queue/spool
 *
 * The content spool: message bytes stored once, referenced by id from jobs, reference-counted
 * per recipient. One interface, two backends (Redis, filesystem) that pass one conformance suite.
 */
export {
  type Spool,
  type SpoolWriteOptions,
  type SpoolEntryInfo,
  SpoolNotFoundError,
  SpoolExistsError,
  defaultSpoolTtlMs,
  assertSpoolId,
  isSpoolId,
  writeIfAbsent,
} from './spool.js';
export { createRedisSpool, type RedisSpoolOptions } from './redis-spool.js';
export { createFsSpool, type FsSpool } from './fs-spool.js';
export { openSpool, type SpoolSettings, type OpenSpoolOptions, type SweepLogger, type OpenedSpool } from './open.js';
export { type ContentRef, carriedLimit, carry, isCarried, readContent, writeCarried } from './carried.js';
