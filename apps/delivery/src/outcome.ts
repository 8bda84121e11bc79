/**
 * The delivery agent's one error policy: what a failed delivery means — for the queue
 * (retry, fail for good keeping the content for a bounce, or drop), for an LMTP client (the
 * reply per recipient), for logs and metrics (the outcome label). Unknown errors count as
 * temporary.
 */
import { MailboxLockedError, QuotaExceededError } from '@mailway/mailbox';
import { SpoolNotFoundError } from '@mailway/queue/spool';
import { Enhanced } from '@mailway/smtp/reply';
import { type Verdict, defer, reject } from '@mailway/smtp/server';

export type FailureOutcome = 'over_quota' | 'unknown_recipient' | 'no_content' | 'loop' | 'failed';

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

/**
 * A routing loop (RFC 5321 §6.3): the message would go round again. `path` is the way it came,
 * the address that closes the loop last.
 */
export class LoopDetected extends PermanentFailure {
  constructor(
    readonly path: readonly string[],
    message: string,
  ) {
    super('loop', message);
  }
}

export interface Failure {
  readonly outcome: FailureOutcome;
  readonly permanent: boolean;
  /**
   * A permanent failure of mail that must never be bounced (a bounce itself, null sender): its
   * spool reference goes at once and the job ends without a failure record. Other permanent
   * failures keep their reference for the bounce that will report them.
   */
  readonly drop: boolean;
  /** The LMTP reply for this recipient. */
  readonly verdict: Verdict;
}

/** What `error` means for a message from `sender` ('' is the null sender). */
export function classify(error: unknown, sender: string): Failure {
  if (error instanceof PermanentFailure && error.outcome === 'unknown_recipient') {
    return { outcome: error.outcome, permanent: true, drop: false, verdict: reject(550, '5.1.1', 'No such user here') };
  }
  // A looping bounce is dropped: bouncing it could only start another loop.
  if (error instanceof PermanentFailure && error.outcome === 'loop') {
    return { outcome: 'loop', permanent: true, drop: sender === '', verdict: reject(554, Enhanced.routingLoop, 'Routing loop detected') };
  }
  if (error instanceof PermanentFailure) return { outcome: error.outcome, permanent: true, drop: false, verdict: reject(554, '5.3.0', 'Delivery failed') };
  if (error instanceof QuotaExceededError) return { outcome: 'over_quota', permanent: false, drop: false, verdict: defer(452, '4.2.2', 'Mailbox full, try again later') };
  // The content is gone (removed by an administrator, or expired): nothing to deliver, ever.
  if (error instanceof SpoolNotFoundError) return { outcome: 'no_content', permanent: true, drop: false, verdict: reject(554, '5.3.0', 'Delivery failed') };
  if (error instanceof MailboxLockedError) return { outcome: 'failed', permanent: false, drop: false, verdict: defer(451, '4.2.0', 'Mailbox busy, try again later') };
  return { outcome: 'failed', permanent: false, drop: false, verdict: defer(451, '4.3.0', 'Temporary failure, try again later') };
}
