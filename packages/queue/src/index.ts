/**
 * @module @mailway/queue
 *
 * Mailway's queues and spool: the job schemas that are the contract between agents, the Redis
 * connection and its start-up checks, the content spool, and typed BullMQ factories. Schema-only
 * consumers import `@mailway/queue/jobs`, which loads neither BullMQ nor ioredis.
 *
 * The root is the sum of the subpaths: each subpath's index holds the one list of what it
 * exports, so the root cannot fall behind it.
 */
export * from './jobs/index.js';
export * from './redis/index.js';
export * from './spool/index.js';
export * from './queues/index.js';
