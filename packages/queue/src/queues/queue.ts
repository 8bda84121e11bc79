/**
 * createMailQueue: the producer side of a Mailway queue. Validates a payload against its zod
 * schema and adds it under its deterministic job id, so adding twice queues one job.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type JobSpec, type JobTypes, type QueueName, jobSpecs } from '../jobs/registry.js';
import { jobOptions } from './options.js';

/** How one job is added, where it differs from the queue's defaults. */
export interface AddOptions {
  readonly delayMs?: number;
  readonly attempts?: number;
  /**
   * false: the job is deleted once it completes, instead of kept a day (the default). Only for a
   * job whose id nothing will add again: the day is what lets a repeated add find it.
   */
  readonly keepCompleted?: boolean;
}

/** A typed producer for queue `N`. */
export interface MailQueue<N extends QueueName> {
  readonly name: N;
  /** The underlying BullMQ queue (inspection, admin tools). */
  readonly queue: Queue;
  /**
   * Validates `data`, then adds it under its deterministic job id. A second add with the same id
   * changes nothing and returns the existing job id. Resolves once Redis acknowledged the add.
   */
  add(data: JobTypes[N], options?: AddOptions): Promise<string>;
  /** Closes the queue; the connection stays open (it is the caller's). */
  close(): Promise<void>;
}

/** A producer for queue `name` over `connection` (a 'command' role client fails fast). */
export function createMailQueue<N extends QueueName>(name: N, connection: Redis, options: { prefix?: string; failedRetentionMs?: number } = {}): MailQueue<N> {
  const { prefix = 'mailway' } = options;
  const spec = jobSpecs[name] as JobSpec<N>;
  // How long failed jobs are kept travels with each job (its removeOnFail), for the spool to read.
  const queue = new Queue(name, { connection, prefix, defaultJobOptions: { ...jobOptions(options.failedRetentionMs), ...(spec.retry ?? {}) } });

  async function add(data: JobTypes[N], addOptions: AddOptions = {}): Promise<string> {
    // Sanity checks: a bad payload never reaches Redis.
    const payload = spec.schema.parse(data);
    const jobId = spec.jobId(payload);
    // A fail-fast client must not leave the add waiting for a reconnect (the SMTP session
    // should answer 451 now); BullMQ would wait for readiness before sending anything.
    if (connection.options.enableOfflineQueue === false && connection.status !== 'ready') {
      throw new Error(`Redis is not connected (${connection.status}): ${name} job ${jobId} not queued`);
    }

    const job = await queue.add(name, payload, {
      jobId,
      ...(addOptions.delayMs !== undefined ? { delay: addOptions.delayMs } : {}),
      ...(addOptions.attempts !== undefined ? { attempts: addOptions.attempts } : {}),
      ...(addOptions.keepCompleted === false ? { removeOnComplete: true } : {}),
    });
    return job.id ?? jobId;
  }

  return { name, queue, add, close: () => queue.close() };
}
