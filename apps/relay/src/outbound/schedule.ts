/**
 * When a deferred message is tried again, and when Mailway gives up on it. As Postfix's queue
 * manager does, the wait after a failed attempt grows with the message's age: the time since it
 * arrived, kept between a minimum and a maximum back-off; a message older than its queue
 * lifetime after a failed attempt is returned to its sender. The last attempt is made when the
 * lifetime runs out, not a whole back-off after it. Notifications (null sender) get their own,
 * shorter lifetime: a bounce that cannot be delivered is not worth five days of retries.
 *
 * Reads: the message's arrival time, the time now, the policy. Emits: the next attempt's delay,
 * or "expired"; and whether the delay warning is due.
 */

export interface RetryPolicy {
  /** Shortest wait between attempts, ms (Postfix minimal_backoff_time: 300 s). */
  readonly minBackoff: number;
  /** Longest wait between attempts, ms (Postfix maximal_backoff_time: 4000 s). */
  readonly maxBackoff: number;
  /** How long a message is tried before it is returned, ms (5 days). */
  readonly lifetime: number;
  /** The same for notifications sent from the null sender, ms. */
  readonly bounceLifetime: number;
  /** Age after which the sender is told the message is delayed, ms; 0 never tells. */
  readonly delayWarning: number;
}

export type NextStep = { readonly kind: 'retry'; readonly delay: number; readonly at: number } | { readonly kind: 'expired' };

/** After a failed attempt at `now`: when to try again, or that the message has expired. */
export function nextAttempt(arrivedAt: number, now: number, policy: RetryPolicy, nullSender: boolean): NextStep {
  const age = Math.max(0, now - arrivedAt);
  const lifetime = nullSender ? policy.bounceLifetime : policy.lifetime;
  if (age >= lifetime) return { kind: 'expired' };
  const backoff = Math.min(policy.maxBackoff, Math.max(policy.minBackoff, age));
  const delay = Math.min(backoff, lifetime - age);
  return { kind: 'retry', delay, at: now + delay };
}

/** The moment Mailway stops trying (a delay notice's Will-Retry-Until). */
export function expiresAt(arrivedAt: number, policy: RetryPolicy, nullSender: boolean): number {
  return arrivedAt + (nullSender ? policy.bounceLifetime : policy.lifetime);
}

/** Whether a delay notice is due now: old enough, not yet sent, and never about a notification. */
export function delayWarningDue(arrivedAt: number, now: number, policy: RetryPolicy, nullSender: boolean, alreadyWarned: boolean): boolean {
  return !nullSender && !alreadyWarned && policy.delayWarning > 0 && now - arrivedAt >= policy.delayWarning;
}
