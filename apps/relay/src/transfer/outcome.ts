/**
 * The transfer worker's outcome table: what a routing run that threw leads to. A job without
 * its content can never succeed and fails at once; anything else (Redis, the directory) is
 * retried until the job's attempts are spent. A job that fails for good parks its content's
 * references for as long as the failed job is kept, so that `mailway queue` can still show it
 * and a retry by hand still finds it.
 */
import { UnrecoverableError } from 'bullmq';

export type TransferOutcome =
  /** Another run will come: the references stay as they are. */
  | 'retry'
  /** Failed for good: the references are parked until the failed job goes. */
  | 'fail_and_park';

/** The outcome of a run that threw `error` after `attemptsMade` earlier failed runs of `attempts`. */
export function transferOutcome(error: unknown, attemptsMade: number, attempts: number): TransferOutcome {
  if (error instanceof UnrecoverableError) return 'fail_and_park';
  return attemptsMade + 1 >= attempts ? 'fail_and_park' : 'retry';
}
