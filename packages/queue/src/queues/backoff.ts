/**
 * The `capped` backoff of jobs whose queue retries for days (see JobSpec.retry): the wait
 * doubles from the job's `delay` up to an hour, with a fifth of jitter so that jobs that failed
 * together do not come back together.
 */
import type { MinimalJob } from 'bullmq';

/** The longest wait between two runs of a job that threw. */
export const cappedBackoffMaxMs = 3_600_000;

/** The wait before run `attemptsMade + 1` of a job with `capped` backoff from `delay` ms. */
export function cappedBackoff(attemptsMade: number, delay: number, random: () => number = Math.random): number {
  const full = Math.min(delay * 2 ** Math.max(attemptsMade - 1, 0), cappedBackoffMaxMs);
  return Math.round(full * (0.8 + 0.2 * random()));
}

/** BullMQ's custom backoff strategy for Mailway's workers. */
export function backoffStrategy(attemptsMade: number, type: string | undefined, _error: Error | undefined, job: MinimalJob | undefined): number {
  if (type !== 'capped') throw new Error(`unknown backoff type ${String(type)}`);
  const backoff = job?.opts.backoff;
  const delay = typeof backoff === 'object' && typeof backoff.delay === 'number' ? backoff.delay : 30_000;
  return cappedBackoff(attemptsMade, delay);
}
