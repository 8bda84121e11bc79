/**
 * The delivery agent's one error policy: what a failed delivery means — for the queue
 * (retry or fail for good), for an LMTP client (the reply per recipient), for logs and
 * metrics (the outcome label). Unknown errors count as temporary.
 */
import { MailboxLockedError, QuotaExceededError } from '@mailway/mailbox';
import { SpoolNotFoundError } from '@mailway/queue/spool';
import { type Verdict, defer, reject } from '@mailway/smtp/server';

export type FailureOutcome = 'over_quota' | 'unknown_recipient' | 'no_content' | 'failed';

/**
 * A failure no retry can fix. Named `UnrecoverableError`, which BullMQ recognizes by name,
 * so the job fails at once instead of being retried.
 */
export class PermanentFailure extends Error {
  override name = 'UnrecoverableError';
  constructor(
    readonly outcome: FailureOutcome,
    message: string,
  ) {
    super(message);
  }
}

export interface Failure {
  readonly outcome: FailureOutcome;
  readonly permanent: boolean;
  /** The LMTP reply for this recipient. */
  readonly verdict: Verdict;
}

/** What `error` means. */
export function classify(error: unknown): Failure {
  if (error instanceof PermanentFailure && error.outcome === 'unknown_recipient') {
    return { outcome: error.outcome, permanent: true, verdict: reject(550, '5.1.1', 'No such user here') };
  }
  if (error instanceof PermanentFailure) return { outcome: error.outcome, permanent: true, verdict: reject(554, '5.3.0', 'Delivery failed') };
  if (error instanceof QuotaExceededError) return { outcome: 'over_quota', permanent: false, verdict: defer(452, '4.2.2', 'Mailbox full, try again later') };
  // The content is gone (removed by an administrator, or expired): nothing to deliver, ever.
  if (error instanceof SpoolNotFoundError) return { outcome: 'no_content', permanent: true, verdict: reject(554, '5.3.0', 'Delivery failed') };
  if (error instanceof MailboxLockedError) return { outcome: 'failed', permanent: false, verdict: defer(451, '4.2.0', 'Mailbox busy, try again later') };
  return { outcome: 'failed', permanent: false, verdict: defer(451, '4.3.0', 'Temporary failure, try again later') };
}
