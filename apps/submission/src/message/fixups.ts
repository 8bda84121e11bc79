/**
 * RFC 6409 §8 fix-ups and the trace field for one submitted message.
 *
 * Reads the original header fields and the session's facts; emits the fields to put in front
 * of the message, in order: Received (trace fields go first, RFC 5322 §3.6.7), then Date,
 * Message-ID and From where the message lacks them. The original bytes are never changed.
 */
import { receivedFor } from '@mailway/intake';
import { formatDate, generateMessageId } from '@mailway/smtp/message';
import type { Session } from '@mailway/smtp/server';

export interface FixupFacts {
  readonly session: Session;
  /** This host's name, for Received and generated Message-IDs. */
  readonly hostname: string;
  readonly queueId: string;
  /** The single recipient, recorded in Received only when there is exactly one. */
  readonly recipients: readonly string[];
  /** The transaction used SMTPUTF8. */
  readonly utf8: boolean;
  readonly date: Date;
  /** What the message already has. */
  readonly has: { readonly date: boolean; readonly messageId: boolean; readonly from: boolean };
  /** The reverse-path, used for a missing From. */
  readonly reversePath: string | null;
}

export interface Fixups {
  readonly fields: string[];
  /** The Message-ID the agent added, if it added one. */
  readonly messageId: string | null;
}

/** The fields to prepend. */
export function fixupFields(facts: FixupFacts): Fixups {
  const fields = [receivedFor(facts.session, facts)];
  if (!facts.has.date) fields.push(`Date: ${formatDate(facts.date)}`);
  const messageId = facts.has.messageId ? null : generateMessageId(facts.hostname);
  if (messageId !== null) fields.push(`Message-ID: ${messageId}`);
  if (!facts.has.from && facts.reversePath !== null) fields.push(`From: <${facts.reversePath}>`);
  return { fields, messageId };
}

