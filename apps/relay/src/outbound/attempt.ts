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
 * fallback is recorded (and, with a session cache, remembered for the host for a while, so that
 * its next messages go in plaintext at once). `required` never falls back (the host is left, the recipients
 * deferred), nor does a REQUIRETLS message, which also needs a certificate that verifies
 * (RFC 8689). Only hosts before the limit are tried; the rest wait for the next attempt. A host
 * that greets with one of this host's names is this host: a loop, left with 5.4.6.
 *
 * A receiving domain's TLS requirement (security/tls-policy.ts: DANE or MTA-STS) narrows this:
 * only the hosts it allows are tried, each over STARTTLS with a certificate it accepts, checked
 * after the handshake and before any transaction; a host that falls short is left (4.7.5, or
 * 4.7.4 without STARTTLS) and the recipients wait, never sent in plaintext. An MTA-STS policy
 * in `testing` mode is only reported. Every check comes back in the result for logs, metrics
 * and reports.
 *
 * With a session cache (sessions.ts), a host's idle session is used before a new one is opened,
 * and every session that can carry another message goes back to the cache afterwards. A cached
 * session the peer closed while idle (it fails before any reply) is not held against the host:
 * a new session is opened at once, as Postfix does.
 */
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { type ClientAuth, type ClientTimeouts, type SendResult, type SmtpClient, SmtpClientError, connect } from '@mailway/smtp/client';
import type { EnvelopeRecipient } from '@mailway/queue/jobs';
import type { NextHop } from './mx.js';
import type { OpenSession, OutboundSessions } from './sessions.js';
import { type SessionVerdict, type Verdict, deferred, failed, hasRecipientResults, recipientVerdict, sessionVerdict } from './outcome.js';
import { type PolicyResult, type TlsRequirement, checkSession, enforced, enforcedFor, failedSession, noRequirement, refusedHost, requirementName, sortHops } from './security/tls-policy.js';

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
  /** Source addresses to connect from, per family (Postfix's smtp_bind_address and smtp_bind_address6); the system's choice when unset. */
  readonly bind?: { readonly ipv4?: string; readonly ipv6?: string };
  readonly timeouts?: Partial<ClientTimeouts>;
  /** Sessions kept between messages (see sessions.ts); without it every attempt opens its own. */
  readonly sessions?: OutboundSessions;
  /** What the receiving domain asks of TLS (DANE or MTA-STS); none by default. */
  readonly security?: TlsRequirement;
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
  /** The host turned the session away as one too many (see outcome.ts, isCongestion). */
  readonly congested?: boolean;
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
  /** Hosts were tried and not one could be spoken to (connection, greeting, EHLO, STARTTLS). */
  readonly unreachable?: boolean;
  /** How each host fared against the domain's TLS requirement (none without one). */
  readonly policy: readonly PolicyResult[];
}

/** Offer `message` to `hops` in order; every recipient comes back with a verdict. */
export async function attemptDelivery(hops: readonly NextHop[], message: OutboundMessage, options: AttemptOptions): Promise<AttemptResult> {
  const tried: HostTry[] = [];
  const policy: PolicyResult[] = [];
  // Why each host was left, in order.
  const reasons: Verdict[] = [];
  // A REQUIRETLS message needs a session whose certificate verified: it never shares one.
  const cache = message.requireTls ? null : (options.sessions ?? null);
  const security = options.security ?? noRequirement;
  let spoke = false;

  // Sanity checks: hosts the domain's requirement does not allow (MX hosts an MTA-STS policy does
  // not name, RFC 8461 §4.1; hosts whose DNSSEC lookups failed, RFC 7672 §2.2) are not used.
  const { allowed, refused } = sortHops(security, hops);
  for (const hop of refused) {
    const result = refusedHost(security, hop);
    if (result !== null) policy.push(result);
  }
  if (enforced(security)) {
    for (const hop of refused) tried.push({ host: hop.host, address: hop.address, failure: `not allowed by ${requirementName(security)}`, tls: null, tlsFallback: false });
    if (allowed.length === 0) {
      // 4.7.5 as for a certificate that does not verify: Postfix's MTA-STS policies (secure,
      // match=<the policy's patterns>) leave such a host with that status, and the sender
      // sees a security failure to be fixed by the receiving domain, not a routing one.
      const verdict = deferred('4.7.5', security.kind === 'dane' ? `no MX host of the destination can be used with DANE: ${policy.map((p) => p.detail).join('; ')}` : `no MX host of the destination is named in its MTA-STS policy (${refused.map((h) => h.host).join(', ')})`);
      return { ...everyone(message, verdict, null, null, tried), policy };
    }
  }
  const candidates = enforced(security) ? allowed : hops;

  for (const hop of candidates.slice(0, options.maxHosts)) {
    const key = sessionKey(hop, options);
    const cached = cache?.take(key) ?? null;
    if (cached !== null) {
      spoke = true;
      const outcome = await transact(hop, cached, message, tried, policy);
      finish(key, cached);
      if (outcome.kind === 'decided') return outcome.result;
      // A cached session the peer closed while it was idle says nothing about the host: a new one is opened.
      if (outcome.kind === 'left') {
        reasons.push(outcome.verdict);
        continue;
      }
    }
    const opened = await openSession(hop, options, tried, message.requireTls, policy);
    if (opened.kind === 'failed') {
      reasons.push(opened.verdict);
      continue;
    }
    spoke = true;
    // The domain's TLS requirement, checked before any transaction.
    // (A fallback to plaintext was reported with the handshake that failed.)
    const reported = opened.tlsFallback && policy.some((p) => p.address === hop.address);
    const check = reported ? null : checkSession(security, hop, opened.client.tls);
    if (check !== null) policy.push(check);
    if (check !== null && check.result !== 'success' && enforcedFor(security, hop)) {
      void opened.client.quit();
      // 4.7.5 (RFC 3463 "cryptographic failure"), as Postfix defers a session whose certificate
      // its TLS policy does not accept; 4.7.4 ("security features not supported") when the host
      // offered no STARTTLS, as for RELAY_OUTBOUND_TLS=required.
      const status = check.result === 'starttls-not-supported' ? '4.7.4' : '4.7.5';
      reasons.push(deferred(status, `${requirementName(security)} not met by ${hop.host}: ${check.detail ?? check.result}`));
      tried.push({ host: hop.host, address: hop.address, failure: reasons.at(-1)?.diagnostic ?? null, tls: opened.client.tls?.protocol ?? null, tlsFallback: false });
      continue;
    }
    const session = cache?.opened(opened.client, opened.tlsFallback) ?? { client: opened.client, tlsFallback: opened.tlsFallback, openedAt: Date.now(), messages: 0 };
    // A host that calls itself by this host's name is this host (what RELAY_OWN_ADDRESSES may miss).
    if (greetsAsThisHost(session.client, options.ownNames ?? [])) {
      await session.client.quit();
      reasons.push(failed('5.4.6', `mail for ${hop.host} loops back to this host: it greets with this host's name`));
      tried.push({ host: hop.host, address: hop.address, failure: reasons.at(-1)?.diagnostic ?? null, tls: session.client.tls?.protocol ?? null, tlsFallback: session.tlsFallback });
      continue;
    }
    const outcome = await transact(hop, session, message, tried, policy);
    finish(key, session);
    if (outcome.kind === 'decided') return outcome.result;
    reasons.push(outcome.kind === 'left' ? outcome.verdict : deferred('4.4.2', `the connection to ${hop.host} was lost`));
  }

  // No host decided: the recipients fail only when every host refused for good; otherwise the
  // last temporary reason defers them.
  const temporary = reasons.filter((r) => r.state !== 'failed');
  const verdict = reasons.length === 0 ? deferred('4.4.1', 'no host could be tried') : temporary.length === 0 ? (reasons.at(-1) as Verdict) : (temporary.at(-1) as Verdict);
  // A REQUIRETLS message's refusals say something about the message, not about the hosts; nor
  // do hosts left for a policy's sake say they are down.
  return { ...everyone(message, verdict, null, null, tried), unreachable: !spoke && tried.length > 0 && !message.requireTls && !enforced(security), policy };

  /** The session goes back to the cache when it can carry another message, else it is closed. */
  function finish(key: string, session: OpenSession): void {
    if (cache !== null) cache.give(key, session);
    else void session.client.quit();
  }
}

/**
 * Offer `message` over a session opened by other means (a site that pulled its mail with ODMR
 * turned the connection around); every recipient comes back with a verdict. The session is
 * the caller's, left open for the next message.
 */
export async function attemptOnSession(client: SmtpClient, hop: NextHop, message: OutboundMessage): Promise<AttemptResult> {
  const tried: HostTry[] = [];
  // The site chose this session itself: no receiving domain's TLS policy applies to it.
  const outcome = await transact(hop, { client, tlsFallback: false, openedAt: Date.now(), messages: 0 }, message, tried, []);
  if (outcome.kind === 'decided') return outcome.result;
  const verdict = outcome.kind === 'left' ? outcome.verdict : deferred('4.4.2', `the connection to ${hop.host} was lost`);
  return { ...everyone(message, verdict, null, null, tried), policy: [] };
}

type Transaction =
  | { readonly kind: 'decided'; readonly result: AttemptResult }
  | { readonly kind: 'left'; readonly verdict: Verdict }
  /** A reused session was found closed before the peer said anything. */
  | { readonly kind: 'stale' };

/** One mail transaction over `session`; recorded in `tried` unless the session was stale. */
async function transact(hop: NextHop, session: OpenSession, message: OutboundMessage, tried: HostTry[], policy: readonly PolicyResult[]): Promise<Transaction> {
  const { client, tlsFallback } = session;
  const tls = client.tls?.protocol ?? null;
  const remote = { host: hop.host, address: hop.address, dsn: client.extensions.dsn };
  const reused = session.messages > 0;
  session.messages += 1;
  const decided = (recipients: SendResult['recipients']): Transaction => {
    tried.push({ host: hop.host, address: hop.address, failure: null, tls, tlsFallback });
    return { kind: 'decided', result: { recipients: recipients.map((r, i) => ({ recipient: recipientAt(message, i), verdict: recipientVerdict(r), remote, tls })), tried, policy } };
  };
  try {
    return decided((await client.send(sendOptions(message))).recipients);
  } catch (error) {
    if (hasRecipientResults(error)) return decided(error.result.recipients);
    if (reused && isStale(error)) return { kind: 'stale' };
    const verdict = sessionVerdict(error);
    tried.push({ host: hop.host, address: hop.address, failure: verdict.verdict.diagnostic, tls, tlsFallback });
    if (verdict.kind === 'all-recipients') return { kind: 'decided', result: { ...everyone(message, verdict.verdict, remote, tls, tried), policy } };
    return { kind: 'left', verdict: verdict.verdict };
  }
}

/** The peer closed the session before answering the first command of a transaction. */
function isStale(error: unknown): boolean {
  return error instanceof SmtpClientError && error.phase === 'mail' && error.reply === null && error.kind === 'network';
}

/** Sessions are shared only between messages that would open the same one. */
function sessionKey(hop: NextHop, options: AttemptOptions): string {
  // A session opened under an enforced policy was checked against it; others were not.
  const security = enforcedFor(options.security ?? noRequirement, hop) ? 'enforced' : '';
  return [hop.address, options.port, options.lmtp === true ? 'lmtp' : 'smtp', options.startTls, options.auth?.user ?? '', options.helo, sourceFor(hop, options) ?? '', security].join('|');
}

/** The source address for `hop`'s family, if one is set. */
function sourceFor(hop: NextHop, options: AttemptOptions): string | undefined {
  if (hop.path !== undefined) return undefined;
  return isIP(hop.address) === 6 ? options.bind?.ipv6 : options.bind?.ipv4;
}

type Session = { readonly kind: 'open'; readonly client: SmtpClient; readonly tlsFallback: boolean } | { readonly kind: 'failed'; readonly verdict: Verdict };

/**
 * Connects and greets (EHLO, STARTTLS, AUTH); a failed opportunistic STARTTLS is retried in
 * plaintext once. `verified` (a REQUIRETLS message, RFC 8689 §4.2.1): the certificate must
 * verify, and there is no plaintext retry (a host without STARTTLS then refuses the message).
 */
async function openSession(hop: NextHop, options: AttemptOptions, tried: HostTry[], verified: boolean, policy: PolicyResult[]): Promise<Session> {
  const security = options.security ?? noRequirement;
  // An enforced policy needs STARTTLS whatever the configured level; its certificate is checked after the handshake (checkSession).
  const level: AttemptOptions['startTls'] = enforcedFor(security, hop) ? 'required' : options.startTls;
  const attempt = (startTls: AttemptOptions['startTls']): Promise<SmtpClient> =>
    connect({
      ...(hop.path === undefined ? { host: hop.address, port: options.port } : { path: hop.path }),
      name: options.helo,
      startTls,
      lmtp: options.lmtp ?? false,
      // Opportunistic TLS takes any certificate (RFC 7435): refusing one would only mean plaintext.
      tls: {
        ...(hop.host.startsWith('[') ? {} : { servername: hop.host }),
        // An enforced policy's certificate is checked after the handshake (checkSession), which
        // says why it failed; with DANE that check also stands for REQUIRETLS's (RFC 8689 §4.2.1).
        rejectUnauthorized: !enforcedFor(security, hop) && (verified || (startTls === 'required' ? (options.tls?.rejectUnauthorized ?? true) : false)),
        ...(options.tls?.ca ? { ca: options.tls.ca } : {}),
      },
      ...(options.auth ? { auth: options.auth } : {}),
      ...(sourceFor(hop, options) === undefined ? {} : { localAddress: sourceFor(hop, options) }),
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    });
  const mayFallBack = level === 'opportunistic' && !verified;
  // A host whose handshake failed a little while ago gets plaintext at once, not the same failure first.
  if (mayFallBack && options.sessions?.tlsFailedLately(hop.address) === true) {
    try {
      return { kind: 'open', client: await attempt('never'), tlsFallback: true };
    } catch (error) {
      return left(hop, sessionVerdict(error), tried);
    }
  }
  try {
    return { kind: 'open', client: await attempt(level), tlsFallback: false };
  } catch (error) {
    const decided = sessionVerdict(error);
    // A session that could not be opened over TLS fails the domain's requirement too.
    const noStartTls = error instanceof SmtpClientError && error.phase === 'starttls' && error.kind === 'policy';
    if (decided.kind === 'next-host' && (decided.tlsFailed || noStartTls)) {
      const result = failedSession(security, hop, decided.tlsFailed ? 'handshake' : 'starttls-not-supported', decided.verdict.diagnostic);
      if (result !== null) policy.push(result);
    }
    if (decided.kind === 'next-host' && decided.tlsFailed && mayFallBack) {
      tried.push({ host: hop.host, address: hop.address, failure: decided.verdict.diagnostic, tls: null, tlsFallback: false });
      options.sessions?.noteTlsFailure(hop.address);
      try {
        return { kind: 'open', client: await attempt('never'), tlsFallback: true };
      } catch (retryError) {
        return left(hop, sessionVerdict(retryError), tried);
      }
    }
    return left(hop, decided, tried);
  }
}

/** Whether the first word of the greeting or of the EHLO reply (the server's name) is one of `names`. */
function greetsAsThisHost(client: SmtpClient, names: readonly string[]): boolean {
  const own = new Set(names.map((name) => name.toLowerCase().replace(/\.$/, '')));
  const nameIn = (reply: SmtpClient['greeting'] | null): string => (reply?.lines[0] ?? '').split(' ')[0]?.toLowerCase().replace(/\.$/, '') ?? '';
  return own.has(nameIn(client.greeting)) || own.has(nameIn(client.hello));
}

function left(hop: NextHop, decided: SessionVerdict, tried: HostTry[]): Session {
  const congested = decided.kind === 'next-host' && decided.congested === true;
  tried.push({ host: hop.host, address: hop.address, failure: decided.verdict.diagnostic, tls: null, tlsFallback: false, ...(congested ? { congested } : {}) });
  return { kind: 'failed', verdict: decided.verdict };
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

function everyone(message: OutboundMessage, verdict: Verdict, remote: RecipientOutcome['remote'], tls: string | null, tried: readonly HostTry[]): Omit<AttemptResult, 'policy'> {
  return { recipients: message.recipients.map((recipient) => ({ recipient, verdict, remote, tls })), tried };
}
