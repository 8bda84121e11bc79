/**
 * Sender authentication (RELAY_VERIFY): SPF for the client and reverse-path, DKIM signatures,
 * and DMARC for the From domain, checked with mailauth and recorded in one
 * Authentication-Results field (RFC 8601) naming this host. Reads the whole message and the
 * session's facts; DNS goes through the given resolver (the system's by default).
 *
 * A check that breaks (DNS trouble, a bug) never costs the message: it is logged and the
 * message is queued without the field.
 */
import { type DNSResolver, authenticate } from 'mailauth';

export type DnsResolver = DNSResolver;

export interface VerifyFacts {
  /** The client's IP address. */
  readonly ip: string;
  /** The name it gave in HELO/EHLO. */
  readonly helo: string;
  /** The reverse-path; '' for the null sender. */
  readonly sender: string;
  /** This host's name, the authserv-id of the field. */
  readonly hostname: string;
}

/** Checks one message; resolves with the Authentication-Results field, ending CRLF. */
export type Verifier = (message: Buffer, facts: VerifyFacts) => Promise<string>;

/** A verifier that asks `resolver` (or the system resolver) for DNS records. */
export function createVerifier(resolver?: DnsResolver): Verifier {
  return async (message, facts) => {
    const result = await authenticate(message, {
      ip: facts.ip,
      helo: facts.helo,
      sender: facts.sender,
      mta: facts.hostname,
      disableArc: true,
      disableBimi: true,
      ...(resolver === undefined ? {} : { resolver }),
    });
    const field = fieldsOf(result.headers).find((f) => /^authentication-results:/i.test(f));
    if (field === undefined) throw new Error('mailauth produced no Authentication-Results field');
    return field;
  };
}

/** Split a header block into its fields, each with its folds and ending CRLF. */
function fieldsOf(block: string): string[] {
  const fields: string[] = [];
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    if (/^[ \t]/.test(line) && fields.length > 0) fields[fields.length - 1] += `${line}\r\n`;
    else fields.push(`${line}\r\n`);
  }
  return fields;
}
