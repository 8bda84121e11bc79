/**
 * Job options every Mailway queue starts from, and how long a failed job (and so its spooled
 * content) is kept. Agents override attempts and backoff where their own retry policy (e.g. the
 * relay's queue lifetime) decides.
 */
import type { DefaultJobOptions, JobsOptions } from 'bullmq';

const hour = 60 * 60;
const day = 24 * hour;

/** Failed jobs stay two weeks by default (MAILWAY_FAILED_RETENTION). */
export const defaultFailedRetentionMs = 14 * day * 1000;

/**
 * Retry a few times with jittered exponential backoff (30 s, 1 min, 2 min, …). Completed jobs
 * stay a day, so a hand-off retried after a crash still finds its deterministic job id and adds
 * nothing; failed jobs stay two weeks for inspection (`mailway queue show`).
 */
export const defaultJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 30_000, jitter: 0.2 },
  removeOnComplete: { age: day, count: 100_000 },
  removeOnFail: { age: defaultFailedRetentionMs / 1000 },
} as const satisfies DefaultJobOptions;

/** The default options with failed jobs kept `failedRetentionMs` (BullMQ counts whole seconds). */
export function jobOptions(failedRetentionMs: number = defaultFailedRetentionMs): DefaultJobOptions {
  if (!Number.isSafeInteger(failedRetentionMs) || failedRetentionMs < 1) throw new RangeError(`failedRetentionMs must be a positive integer, not ${failedRetentionMs}`);
  return { ...defaultJobOptions, removeOnFail: { age: Math.ceil(failedRetentionMs / 1000) } };
}

/** Up to this much is added to a failed job's deadline (see failedJobDeadline). */
const deadlineGraceMs = 60_000;

/**
 * Until when a job that fails for good at `now` is kept in its queue's failed set, read from
 * its own removeOnFail: its spooled content is parked until then. BullMQ stamps the job a
 * moment after the worker asks, so a grace (the retention itself, at most a minute) keeps the
 * content no shorter than the job. A job kept without an age limit gets the default retention;
 * one removed at once, none.
 */
export function failedJobDeadline(opts: Pick<JobsOptions, 'removeOnFail'>, now = Date.now()): Date {
  const keep = opts.removeOnFail;
  if (keep === true) return new Date(now);
  const age = typeof keep === 'object' && 'age' in keep ? keep.age : undefined;
  const keepMs = age === undefined ? defaultFailedRetentionMs : age * 1000;
  return new Date(now + keepMs + Math.min(keepMs, deadlineGraceMs));
}

/** BullMQ's key prefix for a Mailway key prefix (`mailway:` → `mailway`), so every agent finds the same queues. */
export function bullPrefix(prefix: string): string {
  return prefix.replace(/:+$/, '') || 'mailway';
}
