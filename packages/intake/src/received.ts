/**
 * The Received field (RFC 5321 §4.4) an intake puts in front of a message: the client as it
 * introduced itself and its IP, the TLS session, this host, the protocol (RFC 3848: ESMTP,
 * ESMTPS, ESMTPA, ESMTPSA; SMTP after HELO; RFC 6531's UTF8 variants) and the queue id; the
 * recipient in a `for` clause only when there is exactly one.
 */
import { type WithProtocol, receivedField } from '@mailway/smtp/message';
import type { Session } from '@mailway/smtp/server';

export interface TraceFacts {
  readonly hostname: string;
  readonly queueId: string;
  readonly recipients: readonly string[];
  /** The transaction used SMTPUTF8. */
  readonly utf8: boolean;
  readonly date: Date;
}

/** The Received field for a message taken in over `session`, ending CRLF. */
export function receivedFor(session: Session, facts: TraceFacts): string {
  const [only] = facts.recipients;
  return receivedField({
    from: { helo: session.helo?.name ?? '', ip: session.remote.address },
    by: facts.hostname,
    with: protocolOf(session, facts.utf8),
    id: facts.queueId,
    ...(facts.recipients.length === 1 && only !== undefined ? { for: only } : {}),
    tls: session.tls ? { protocol: session.tls.protocol ?? 'TLS', cipher: session.tls.cipher } : null,
    date: facts.date,
  });
}

/** RFC 3848 / RFC 6531 WITH keywords by transaction kind, TLS (S) and authentication (A). */
const protocols = {
  esmtp: { plain: 'ESMTP', S: 'ESMTPS', A: 'ESMTPA', SA: 'ESMTPSA' },
  utf8: { plain: 'UTF8SMTP', S: 'UTF8SMTPS', A: 'UTF8SMTPA', SA: 'UTF8SMTPSA' },
} as const satisfies Record<string, Record<'plain' | 'S' | 'A' | 'SA', WithProtocol>>;

/** The WITH keyword for this session. */
export function protocolOf(session: Session, utf8: boolean): WithProtocol {
  if (!utf8 && session.helo?.verb === 'HELO') return 'SMTP';
  const flags = `${session.tls !== null ? 'S' : ''}${session.user !== null ? 'A' : ''}`;
  return protocols[utf8 ? 'utf8' : 'esmtp'][flags === '' ? 'plain' : (flags as 'S' | 'A' | 'SA')];
}
