/**
 * @module @mailway/queue/queues
 *
 * Typed BullMQ factories: a producer that validates and adds under deterministic job ids, and a
 * worker that hands its processor parsed payloads.
 */
export { type AddOptions, createMailQueue, type MailQueue } from './queue.js';
export { createMailWorker, type MailProcessor, type MailWorkerOptions } from './worker.js';
export { defaultJobOptions, defaultFailedRetentionMs, jobOptions, failedJobDeadline, bullPrefix } from './options.js';
export type { JobTypes, QueueName } from '../jobs/registry.js';
