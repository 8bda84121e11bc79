/**
 * The outbound error policy, one row per kind of failure: what it means for the attempt and
 * the status a DSN would carry.
 */
import { describe, expect, it } from 'vitest';
import { SmtpClientError, type RecipientResult } from '@mailway/smtp/client';
import { reply } from '@mailway/smtp/reply';
import { buildDsn } from '@mailway/intake/notices';
import { isCongestion, recipientVerdict, sessionVerdict } from './outcome.js';

type Row = [string, unknown, string];

describe('sessionVerdict', () => {
  const rows: Row[] = [
    ['connection refused', new SmtpClientError('connect ECONNREFUSED', { phase: 'connect', kind: 'network' }), 'next-host deferred 4.4.1'],
    ['connection lost mid-session', new SmtpClientError('socket closed', { phase: 'data', kind: 'network' }), 'next-host deferred 4.4.2'],
    ['no answer in time', new SmtpClientError('timeout', { phase: 'greeting', kind: 'timeout' }), 'next-host deferred 4.4.2'],
    ['421 at the greeting', new SmtpClientError('busy', { phase: 'greeting', kind: 'reply', reply: reply(421, '4.3.2', 'busy') }), 'next-host deferred 4.3.2'],
    ['554 at the greeting (this client refused, not the message)', new SmtpClientError('no', { phase: 'greeting', kind: 'reply', reply: reply(554, null, 'no service') }), 'next-host deferred 4.0.0'],
    ['554 5.7.1 at the greeting', new SmtpClientError('no', { phase: 'greeting', kind: 'reply', reply: reply(554, '5.7.1', 'listed') }), 'next-host deferred 4.7.1'],
    ['4xx to EHLO', new SmtpClientError('x', { phase: 'ehlo', kind: 'reply', reply: reply(451, null, 'later') }), 'next-host deferred 4.0.0'],
    ['TLS handshake failed', new SmtpClientError('tls', { phase: 'starttls', kind: 'tls' }), 'next-host deferred 4.7.5'],
    ['a malformed reply', new SmtpClientError('bad', { phase: 'mail', kind: 'protocol' }), 'next-host deferred 4.5.0'],
    ['451 to MAIL', new SmtpClientError('x', { phase: 'mail', kind: 'reply', reply: reply(451, '4.3.0', 'later') }), 'next-host deferred 4.3.0'],
    ['550 to MAIL', new SmtpClientError('x', { phase: 'mail', kind: 'reply', reply: reply(550, '5.7.1', 'sender refused') }), 'all-recipients failed 5.7.1'],
    ['552 after the data', new SmtpClientError('x', { phase: 'data', kind: 'reply', reply: reply(552, '5.3.4', 'too big') }), 'all-recipients failed 5.3.4'],
    ['SIZE over the peer limit', new SmtpClientError('x', { phase: 'mail', kind: 'policy', temporary: false, status: '5.3.4' }), 'all-recipients failed 5.3.4'],
    ['REQUIRETLS not offered over TLS', new SmtpClientError('x', { phase: 'mail', kind: 'policy', temporary: false, status: '5.7.30' }), 'next-host failed 5.7.30'],
    ['STARTTLS required, not offered', new SmtpClientError('x', { phase: 'starttls', kind: 'policy', temporary: true }), 'next-host deferred 4.7.4'],
    ['535 to AUTH (a smart host login)', new SmtpClientError('x', { phase: 'auth', kind: 'reply', reply: reply(535, '5.7.8', 'bad credentials') }), 'next-host deferred 4.7.8'],
    ['AUTH refused over plaintext', new SmtpClientError('x', { phase: 'auth', kind: 'policy', temporary: false }), 'next-host deferred 4.7.0'],
    ['an unknown error', new Error('boom'), 'next-host deferred 4.4.0'],
  ];
  it.each(rows)('%s → %s', (_name, error, expected) => {
    const decided = sessionVerdict(error);
    expect(`${decided.kind} ${decided.verdict.state} ${decided.verdict.status}`).toBe(expected);
  });
});

describe('recipientVerdict', () => {
  const result = (status: RecipientResult['status'], r: ReturnType<typeof reply>): RecipientResult => ({ address: 'x@dest.test', rcpt: r, reply: r, status });
  it.each([
    ['250 with an enhanced code', result('delivered', reply(250, '2.0.0', 'ok')), 'delivered 2.0.0'],
    ['250 without one', result('delivered', reply(250, null, 'ok')), 'delivered 2.0.0'],
    ['452 to RCPT', result('temporary', reply(452, '4.2.2', 'full')), 'deferred 4.2.2'],
    ['550 to RCPT', result('permanent', reply(550, '5.1.1', 'no such user')), 'failed 5.1.1'],
    ['550 without an enhanced code', result('permanent', reply(550, null, 'no')), 'failed 5.0.0'],
  ] as const)('%s → %s', (_name, r, expected) => {
    const verdict = recipientVerdict(r);
    expect(`${verdict.state} ${verdict.status}`).toBe(expected);
    expect(verdict.remote).toBe(true);
  });
});

describe('a remote reply as a diagnostic', () => {
  // A peer may answer with up to 1000 lines of 4 KiB each, and any octet but LF in them.
  const huge = reply(550, '5.1.1', Array.from({ length: 1000 }, (_, i) => `line ${i} ${'x'.repeat(4000)}\r\0Bcc: injected`));
  const verdicts = [
    recipientVerdict({ address: 'x@dest.test', rcpt: huge, reply: huge, status: 'permanent' }),
    sessionVerdict(new SmtpClientError('x', { phase: 'mail', kind: 'reply', reply: huge })).verdict,
  ];

  it.each(verdicts.map((v, i) => [i, v] as const))('is kept short and free of control characters (%i)', (_i, verdict) => {
    expect(verdict.diagnostic).toMatch(/^550 5\.1\.1 line 0 x+/);
    expect(verdict.diagnostic.length).toBeLessThanOrEqual(700);
    expect(verdict.diagnostic).not.toMatch(/[\x00-\x1f\x7f]/);
  });

  it('keeps every line of the DSN that quotes it within the 998 octets of RFC 5322', () => {
    const verdict = verdicts[0]!;
    const dsn = buildDsn({
      reportingMta: 'relay.origin.test', to: 'a@origin.test', queueId: 'Q1', envid: null, arrivalDate: new Date(), now: new Date(), ret: null, returnLimit: 100_000,
      original: Buffer.from('Subject: x\r\n\r\nbody\r\n'),
      recipients: [{ address: 'x@dest.test', orcpt: null, action: 'failed', status: verdict.status, remoteMta: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.dest.test`, remoteReply: verdict.diagnostic, detail: verdict.diagnostic, lastAttempt: new Date(), willRetryUntil: null }],
    });
    const longest = Math.max(...dsn.toString('utf8').split('\r\n').map((line) => Buffer.byteLength(line)));
    expect(longest).toBeLessThanOrEqual(998);
  });
});

describe('isCongestion: a host turning away one session too many', () => {
  const rows: Array<[string, SmtpClientError, boolean]> = [
    ['421 at the greeting', new SmtpClientError('x', { phase: 'greeting', kind: 'reply', reply: reply(421, null, 'mx.example Too many connected clients, try again in a moment') }), true],
    ['450 too many connections at the greeting', new SmtpClientError('x', { phase: 'greeting', kind: 'reply', reply: reply(450, '4.7.0', 'Too many concurrent SMTP connections') }), true],
    ['421 to EHLO', new SmtpClientError('x', { phase: 'ehlo', kind: 'reply', reply: reply(421, '4.3.2', 'service shutting down') }), true],
    ['closed before the greeting', new SmtpClientError('x', { phase: 'greeting', kind: 'network' }), true],
    ['4xx greeting for another reason', new SmtpClientError('x', { phase: 'greeting', kind: 'reply', reply: reply(451, null, 'local error') }), false],
    ['554 at the greeting', new SmtpClientError('x', { phase: 'greeting', kind: 'reply', reply: reply(554, '5.7.1', 'too many complaints') }), false],
    ['connection refused (down, not busy)', new SmtpClientError('x', { phase: 'connect', kind: 'network' }), false],
    ['no greeting in time', new SmtpClientError('x', { phase: 'greeting', kind: 'timeout' }), false],
    ['421 to MAIL (about the message)', new SmtpClientError('x', { phase: 'mail', kind: 'reply', reply: reply(421, null, 'too many messages') }), false],
  ];
  it.each(rows)('%s', (_name, error, expected) => {
    expect(isCongestion(error)).toBe(expected);
    const verdict = sessionVerdict(error);
    expect(verdict.kind === 'next-host' && verdict.congested === true).toBe(expected);
  });
});
