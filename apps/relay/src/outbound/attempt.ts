/**
 * One delivery attempt: a message for the recipients of one destination, offered to its next
 * hops in order until one takes a decision about every recipient.
 *
 * Reads: the next hops (MX resolution, a smart host or a transport map entry), the envelope,
 * and a fresh body stream per try (the spool's content). Emits: a verdict per recipient
 * (delivered, deferred, failed; see outcome.ts), with the host that answered and whether the
 * session was encrypted, and a record of every host tried and why it was left.
 *
 * STARTTLS is opportunistic by default, as Postfix's `may` level: offered → used, with any
 * certificate; a handshake that fails is retried once in plaintext on the same host, and the
 * fallback is recorded. `required` never falls back (the host is left, the recipients
 * deferred), nor does a REQUIRETLS message, which also needs a certificate that verifies
 * (RFC 8689). Only hosts before the limit are tried; the rest wait for the next attempt. A host
 * that greets with one of this host's names is this host: a loop, left with 5.4.6.
 */
import type { Readable } from 'node:stream';
import { type ClientAuth, type ClientTimeouts, type SmtpClient, connect } from '@mailway/smtp/client';
import type { EnvelopeRecipient } from '@mailway/queue/jobs';
import type { NextHop } from './mx.js';
import { type Verdict, deferred, failed, hasRecipientResults, recipientVerdict, sessionVerdict } from './outcome.js';

/** What is sent, as the envelope was accepted. */
export interface OutboundMessage {
  /** Reverse-path without <>; '' is the null sender. */
  readonly from: string;
  readonly recipients: readonly EnvelopeRecipient[];
  /** A new stream of the message's octets, for each try. */
  readonly body: () => Readable | Buffer;
  readonly size: number;
  readonly bodyType: '7BIT' | '8BITMIME' | 'BINARYMIME' | null;
  readonly smtputf8: boolean;
  readonly ret: 'FULL' | 'HDRS' | null;
  readonly envid: string | null;
  readonly requireTls: boolean;
}

export interface AttemptOptions {
  /** Port on every next hop (25, or a smart host's or transport's own). */
  readonly port: number;
  /** The name in EHLO. */
  readonly helo: string;
  readonly startTls: 'opportunistic' | 'required' | 'never';
  /** Certificate checks for required TLS (a smart host); opportunistic TLS accepts any certificate. */
  readonly tls?: { readonly ca?: string; readonly rejectUnauthorized?: boolean };
  /** AUTH credentials (a smart host). */
  readonly auth?: ClientAuth;
  /** Speak LMTP (a transport map entry `lmtp:`). */
  readonly lmtp?: boolean;
  /** Addresses tried in one attempt at most. */
  readonly maxHosts: number;
  /** This host's names: a next host that greets with one of them is this host, a mail loop (5.4.6). */
  readonly ownNames?: readonly string[];
  readonly localAddress?: string;
  readonly timeouts?: Partial<ClientTimeouts>;
}

/** One host tried, and how it went. */
export interface HostTry {
  readonly host: string;
  readonly address: string;
  /** Null when the host took a decision about the recipients; else why it was left. */
  readonly failure: string | null;
  /** TLS protocol of the session, null in plaintext. */
  readonly tls: string | null;
  /** STARTTLS failed and the session went on in plaintext. */
  readonly tlsFallback: boolean;
}

export interface RecipientOutcome {
  readonly recipient: EnvelopeRecipient;
  readonly verdict: Verdict;
  /**
   * The host that answered for it; null when no host did. `dsn`: the host offers DSN, so the
   * recipient's NOTIFY went on with it and success is reported from there (RFC 3461 §6.2.1).
   */
  readonly remote: { readonly host: string; readonly address: string; readonly dsn: boolean } | null;
  readonly tls: string | null;
}

export interface AttemptResult {
  readonly recipients: readonly RecipientOutcome[];
  readonly tried: readonly HostTry[];
}

/** Offer `message` to `hops` in order; every recipient comes back with a verdict. */
export async function attemptDelivery(hops: readonly NextHop[], message: OutboundMessage, options: AttemptOptions): Promise<AttemptResult> {
  const tried: HostTry[] = [];
  // Why each host was left, in order.
  const reasons: Verdict[] = [];
  for (const hop of hops.slice(0, options.maxHosts)) {
    const session = await openSession(hop, options, tried, message.requireTls);
    if (session.kind === 'failed') {
      reasons.push(session.verdict);
      continue;
    }
    const { client, tlsFallback } = session;
    const tls = client.tls?.protocol ?? null;
    // A host that calls itself by this host's name is this host (what RELAY_OWN_ADDRESSES may miss).
    if (greetsAsThisHost(client, options.ownNames ?? [])) {
      await client.quit();
      reasons.push(failed('5.4.6', `mail for ${hop.host} loops back to this host: it greets with this host's name`));
      tried.push({ host: hop.host, address: hop.address, failure: reasons.at(-1)?.diagnostic ?? null, tls, tlsFallback });
      continue;
    }
    const remote = { host: hop.host, address: hop.address, dsn: client.extensions.dsn };
    try {
      const result = await client.send(sendOptions(message));
      tried.push({ host: hop.host, address: hop.address, failure: null, tls, tlsFallback });
      return { recipients: result.recipients.map((r, i) => ({ recipient: recipientAt(message, i), verdict: recipientVerdict(r), remote, tls })), tried };
    } catch (error) {
      if (hasRecipientResults(error)) {
        tried.push({ host: hop.host, address: hop.address, failure: null, tls, tlsFallback });
        return { recipients: error.result.recipients.map((r, i) => ({ recipient: recipientAt(message, i), verdict: recipientVerdict(r), remote, tls })), tried };
      }
      const decided = sessionVerdict(error);
      tried.push({ host: hop.host, address: hop.address, failure: decided.verdict.diagnostic, tls, tlsFallback });
      if (decided.kind === 'all-recipients') return everyone(message, decided.verdict, remote, tls, tried);
      reasons.push(decided.verdict);
    } finally {
      await client.quit();
    }
  }

  // No host decided: the recipients fail only when every host refused for good; otherwise the
  // last temporary reason defers them.
  const temporary = reasons.filter((r) => r.state !== 'failed');
  const verdict = reasons.length === 0 ? deferred('4.4.1', 'no host could be tried') : temporary.length === 0 ? (reasons.at(-1) as Verdict) : (temporary.at(-1) as Verdict);
  return everyone(message, verdict, null, null, tried);
}

type Session = { readonly kind: 'open'; readonly client: SmtpClient; readonly tlsFallback: boolean } | { readonly kind: 'failed'; readonly verdict: Verdict };

/**
 * Connects and greets (EHLO, STARTTLS, AUTH); a failed opportunistic STARTTLS is retried in
 * plaintext once. `verified` (a REQUIRETLS message, RFC 8689 §4.2.1): the certificate must
 * verify, and there is no plaintext retry (a host without STARTTLS then refuses the message).
 */
async function openSession(hop: NextHop, options: AttemptOptions, tried: HostTry[], verified: boolean): Promise<Session> {
  const attempt = (startTls: AttemptOptions['startTls']): Promise<SmtpClient> =>
    connect({
      ...(hop.path === undefined ? { host: hop.address, port: options.port } : { path: hop.path }),
      name: options.helo,
      startTls,
      lmtp: options.lmtp ?? false,
      // Opportunistic TLS takes any certificate (RFC 7435): refusing one would only mean plaintext.
      tls: {
        ...(hop.host.startsWith('[') ? {} : { servername: hop.host }),
        rejectUnauthorized: verified || (startTls === 'required' ? (options.tls?.rejectUnauthorized ?? true) : false),
        ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      },
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    });
  try {
    return { kind: 'open', client: await attempt(options.startTls), tlsFallback: false };
  } catch (error) {
    const decided = sessionVerdict(error);
    if (decided.kind === 'next-host' && decided.tlsFailed && options.startTls === 'opportunistic' && !verified) {
      tried.push({ host: hop.host, address: hop.address, failure: decided.verdict.diagnostic, tls: null, tlsFallback: false });
      try {
        return { kind: 'open', client: await attempt('never'), tlsFallback: true };
      } catch (retryError) {
        return left(hop, sessionVerdict(retryError).verdict, tried);
      }
    }
    return left(hop, decided.verdict, tried);
  }
}

/** Whether the first word of the greeting or of the EHLO reply (the server's name) is one of `names`. */
function greetsAsThisHost(client: SmtpClient, names: readonly string[]): boolean {
  const own = new Set(names.map((name) => name.toLowerCase().replace(/\.$/, '')));
  const nameIn = (reply: SmtpClient['greeting'] | null): string => (reply?.lines[0] ?? '').split(' ')[0]?.toLowerCase().replace(/\.$/, '') ?? '';
  return own.has(nameIn(client.greeting)) || own.has(nameIn(client.hello));
}

function left(hop: NextHop, verdict: Verdict, tried: HostTry[]): Session {
  tried.push({ host: hop.host, address: hop.address, failure: verdict.diagnostic, tls: null, tlsFallback: false });
  return { kind: 'failed', verdict };
}

/** The client's send options for the envelope as accepted. */
function sendOptions(message: OutboundMessage): Parameters<SmtpClient['send']>[0] {
  return {
    from: message.from === '' ? null : message.from,
    to: message.recipients.map((r) => ({
      address: r.address,
      ...(r.notify === null ? {} : { notify: r.notify === 'NEVER' ? ['NEVER' as const] : r.notify }),
      ...(r.orcpt === null ? {} : { orcpt: `${r.orcpt.type};${r.orcpt.address}` }),
    })),
    body: message.body(),
    size: message.size,
    ...(message.bodyType === '8BITMIME' || message.bodyType === 'BINARYMIME' ? { body8bit: message.bodyType } : {}),
    smtputf8: message.smtputf8,
    ...(message.ret === null ? {} : { ret: message.ret }),
    ...(message.envid === null ? {} : { envid: message.envid }),
    requireTls: message.requireTls,
  };
}

function recipientAt(message: OutboundMessage, index: number): EnvelopeRecipient {
  const recipient = message.recipients[index];
  if (recipient === undefined) throw new Error(`the client answered for recipient ${index} of ${message.recipients.length}`);
  return recipient;
}

function everyone(message: OutboundMessage, verdict: Verdict, remote: RecipientOutcome['remote'], tls: string | null, tried: readonly HostTry[]): AttemptResult {
  return { recipients: message.recipients.map((recipient) => ({ recipient, verdict, remote, tls })), tried };
}
