/**
 * createMailWorker: the consumer side of a Mailway queue. Parses each job's payload with its zod
 * schema before the processor sees it; a payload that does not parse can never succeed, so it
 * fails at once with BullMQ's UnrecoverableError carrying the zod issues (no retries).
 */
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { type JobSpec, type JobTypes, type QueueName, jobSpecs } from '../jobs/registry.js';
import { backoffStrategy } from './backoff.js';

/**
 * Handles one job's parsed payload; throwing fails the attempt (retried unless unrecoverable).
 * `token` is the worker's lock on the job, for a processor that reschedules it itself
 * (`job.moveToDelayed(at, token)`, then throw BullMQ's DelayedError).
 */
export type MailProcessor<N extends QueueName> = (data: JobTypes[N], job: Job, token?: string) => Promise<void>;

export interface MailWorkerOptions {
  /** BullMQ key prefix, default 'mailway'. */
  prefix?: string;
  /** Jobs processed at once, default 1. */
  concurrency?: number;
  /** Start fetching jobs at once (default true); otherwise call worker.run(). */
  autorun?: boolean;
  /**
   * How long a job's lock lasts without renewal, in ms (BullMQ default 30 s): a worker that dies
   * mid-job gives the job back after about this long.
   */
  lockDuration?: number;
  /** How often stalled jobs are looked for, in ms (BullMQ default 30 s). */
  stalledInterval?: number;
  /**
   * How many times a job may stall (its worker died) before it fails; BullMQ's default of 1 would
   * fail a job whose worker was killed twice, so Mailway's default is 20.
   */
  maxStalledCount?: number;
}

/**
 * A worker for queue `name`. `connection` must be a 'worker' role client (BullMQ refuses one
 * that gives up on commands); the worker opens its own blocking connection from it.
 */
export function createMailWorker<N extends QueueName>(name: N, connection: Redis, processor: MailProcessor<N>, options: MailWorkerOptions = {}): Worker {
  const { prefix = 'mailway', concurrency = 1, autorun = true, maxStalledCount = 20 } = options;
  const locks = {
    ...(options.lockDuration !== undefined ? { lockDuration: options.lockDuration, lockRenewTime: options.lockDuration / 2 } : {}),
    ...(options.stalledInterval !== undefined ? { stalledInterval: options.stalledInterval } : {}),
  };
  const { schema } = jobSpecs[name] as JobSpec<N>;
  return new Worker(
    name,
    async (job: Job, token?: string) => {
      const parsed = schema.safeParse(job.data);
      if (!parsed.success) throw new UnrecoverableError(`invalid ${name} job ${job.id ?? '?'}: ${z.prettifyError(parsed.error)}`);
      await processor(parsed.data, job, token);
    },
    { connection, prefix, concurrency, autorun, maxStalledCount, ...locks, settings: { backoffStrategy } },
  );
}
