/**
 * Envelope policy for authenticated submission (RFC 6409 §4, §5): the reverse-path must be an
 * address the user may send as (553 5.7.1), the user's hourly message allowance must not be
 * used up (450 4.7.1), and a message may have at most `maxRecipients` recipients (452 4.5.3).
 */
import { type Directory, DirectoryError } from '@mailway/directory';
import type { Logger } from '@mailway/runtime';
import type { Address } from '@mailway/smtp/address';
import { type HookResult, defer, reject } from '@mailway/smtp/server';
import type { Recipient, Session, Transaction } from '@mailway/smtp/server';
import type { SubmissionMetrics } from '../metrics.js';
import { sessionUser } from '../session-state.js';
import type { RateLimiter } from './rate.js';

export interface EnvelopePolicy {
  readonly directory: Directory;
  readonly rate: RateLimiter;
  readonly maxRecipients: number;
  readonly logger: Logger;
  readonly metrics: SubmissionMetrics;
}

const authRequired = reject(530, '5.7.0', 'Authentication required');
const rateLimited = defer(450, '4.7.1', 'Message rate limit exceeded, try again later');
const tooManyRecipients = defer(452, '4.5.3', 'Too many recipients');

/** `local@domain` of a parsed path, as the directory compares it. */
export function mailbox(address: Address): string {
  return `${address.local}@${address.domain}`;
}

/** The onMailFrom hook. */
export function mailFromHook(policy: EnvelopePolicy): (session: Session, transaction: Transaction, from: Address | null) => Promise<HookResult> {
  const { directory, rate, logger, metrics } = policy;

  return async (session, _transaction, from) => {
    const user = sessionUser(session);
    if (user === null) {
      metrics.rejections.inc({ reason: 'auth_required' });
      return authRequired;
    }

    // The null sender is allowed (delivery notifications, RFC 8098); From is still checked after the data.
    if (from !== null && !(await mayUseCached(directory, session, user, mailbox(from)))) {
      metrics.rejections.inc({ reason: 'sender_not_owned' });
      logger.warn({ session: session.id, user, from: mailbox(from) }, 'sender refused: not owned by user');
      return reject(553, '5.7.1', `Sender address rejected: not owned by user ${user}`);
    }

    if (await rate.exceeded(user)) {
      metrics.rejections.inc({ reason: 'rate_limited' });
      logger.warn({ session: session.id, user }, 'sender refused: hourly message limit reached');
      return rateLimited;
    }
    return undefined;
  };
}

/**
 * May `user` send as `address`? Answers are remembered for the session, so a client sending
 * many messages from one address asks the directory once. An address the directory cannot
 * even read is not the user's.
 */
export async function mayUseCached(directory: Directory, session: Session, user: string, address: string): Promise<boolean> {
  const cache = (session.locals.sendAs ??= new Map<string, boolean>()) as Map<string, boolean>;
  const key = address.toLowerCase();
  let allowed = cache.get(key);
  if (allowed === undefined) {
    try {
      allowed = await directory.mayUseAddress(user, address);
    } catch (error) {
      if (!(error instanceof DirectoryError)) throw error;
      allowed = false;
    }
    cache.set(key, allowed);
  }
  return allowed;
}

/** The onRcptTo hook. */
export function rcptToHook(policy: EnvelopePolicy): (session: Session, transaction: Transaction, recipient: Recipient) => HookResult {
  const { maxRecipients, logger, metrics } = policy;

  return (session, transaction) => {
    if (transaction.recipients.length >= maxRecipients) {
      metrics.rejections.inc({ reason: 'too_many_recipients' });
      logger.warn({ session: session.id, user: sessionUser(session), limit: maxRecipients }, 'recipient refused: too many recipients');
      return tooManyRecipients;
    }
    return undefined;
  };
}
