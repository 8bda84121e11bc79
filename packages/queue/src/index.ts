/**
 * @module @mailway/queue
 *
 * Mailway's queues and spool: the job schemas that are the contract between agents, the Redis
 * connection and its start-up checks, the content spool, and typed BullMQ factories. Schema-only
 * consumers import `@mailway/queue/jobs`, which loads neither BullMQ nor ioredis.
 */
export {
  queueNames,
  jobSpecs,
  type QueueName,
  type JobTypes,
  type JobSpec,
  DsnNotify,
  EnvelopeRecipient,
  Envelope,
  Origin,
  TransferJob,
  DeliveryJob,
  OutboundJob,
  QueueId,
  queueIdPattern,
  newQueueId,
  queueIdTime,
  transferJobId,
  deliveryJobId,
  outboundJobId,
} from './jobs/index.js';
export { createRedis, describeRedis, type RedisRole, checkRedis, RedisSetupError, type RedisFacts, waitForRedis } from './redis/index.js';
export {
  type Spool,
  type SpoolWriteOptions,
  type SpoolEntryInfo,
  SpoolNotFoundError,
  SpoolExistsError,
  defaultSpoolTtlMs,
  assertSpoolId,
  isSpoolId,
  createRedisSpool,
  type RedisSpoolOptions,
  createFsSpool,
  type FsSpool,
  openSpool,
  type SpoolSettings,
  type OpenSpoolOptions,
  type SweepLogger,
  type OpenedSpool,
} from './spool/index.js';
export { createMailQueue, type MailQueue, createMailWorker, type MailProcessor, type MailWorkerOptions, defaultJobOptions, defaultFailedRetentionMs, jobOptions, failedJobDeadline, bullPrefix } from './queues/index.js';
