/**
 * The intake's outcome table: every way taking a message in can end short of the queue, and the
 * one reply each gets at end of data, with the rejection reason counted for it (null: the
 * session has answered already, nothing is counted twice). A 250 is given only after the
 * hand-off (hand-off.ts) is durable.
 */
import { ReplicaShortfallError } from '@mailway/queue/redis';
import { HeaderTooLargeError } from '@mailway/smtp/message';
import { Enhanced } from '@mailway/smtp/reply';
import { type Verdict, accept, defer, reject } from '@mailway/smtp/server';

export type IntakeFailure =
  /** More Received fields than the hop limit, this hop's own included: a mail loop (RFC 5321 §6.3). */
  | 'too_many_hops'
  /** A header block over the intake's limit. */
  | 'header_too_large'
  /** The data itself broke (too large, cut off, a bare line ending): the session answers it. */
  | 'body_broken'
  /** Queued, but fewer Redis replicas confirmed it than awaited: a failover could lose it, so no 250. */
  | 'not_replicated'
  /** Anything else, Redis or the spool above all: the client must try again. */
  | 'not_queued';

export interface IntakeOutcome {
  readonly reply: Verdict;
  /** The rejection reason counted, or null. */
  readonly reason: 'too_many_hops' | 'message_invalid' | 'queue_unavailable' | 'replica_unavailable' | null;
}

export const intakeOutcomes: { readonly [K in IntakeFailure]: IntakeOutcome } = {
  too_many_hops: { reply: reject(554, Enhanced.routingLoop, 'Routing loop detected: too many hops'), reason: 'too_many_hops' },
  header_too_large: { reply: reject(552, '5.3.4', 'Message header too large'), reason: 'message_invalid' },
  body_broken: { reply: defer(451, '4.3.0', 'Temporary failure, message not queued; try again later'), reason: null },
  not_replicated: { reply: defer(451, '4.3.0', 'Temporary failure, message not safely stored; try again later'), reason: 'replica_unavailable' },
  not_queued: { reply: defer(451, '4.3.0', 'Temporary failure, message not queued; try again later'), reason: 'queue_unavailable' },
};

/** Which failure `error` is, for a body that has (`bodyErrored`) or has not broken itself. */
export function intakeFailureOf(error: unknown, bodyErrored: boolean): Exclude<IntakeFailure, 'too_many_hops'> {
  if (bodyErrored) return 'body_broken';
  if (error instanceof HeaderTooLargeError) return 'header_too_large';
  if (error instanceof ReplicaShortfallError) return 'not_replicated';
  return 'not_queued';
}

/** The reply once the message is in the queue. */
export function queuedReply(queueId: string): Verdict {
  return accept(`Ok: queued as ${queueId}`, 250, '2.0.0');
}
