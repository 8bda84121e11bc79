/**
 * Job options every Mailway queue starts from. Agents override attempts and backoff where
 * their own retry policy (e.g. the relay's queue lifetime) decides.
 */
import type { DefaultJobOptions } from 'bullmq';

const hour = 60 * 60;
const day = 24 * hour;

/**
 * Retry a few times with jittered exponential backoff (30 s, 1 min, 2 min, …). Completed jobs
 * stay a day, so a hand-off retried after a crash still finds its deterministic job id and adds
 * nothing; failed jobs stay two weeks for inspection (`mailway queue show`).
 */
export const defaultJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 30_000, jitter: 0.2 },
  removeOnComplete: { age: day, count: 100_000 },
  removeOnFail: { age: 14 * day },
} as const satisfies DefaultJobOptions;

/** BullMQ's key prefix for a Mailway key prefix (`mailway:` → `mailway`), so every agent finds the same queues. */
export function bullPrefix(prefix: string): string {
  return prefix.replace(/:+$/, '') || 'mailway';
}
