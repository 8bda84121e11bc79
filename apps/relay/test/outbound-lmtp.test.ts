/**
 * Transport map entries that hand a domain to Dovecot's LMTP server, an independent LMTP
 * implementation: over TCP (`lmtp:[127.0.0.1]:port`) and over a UNIX-domain socket
 * (`lmtp:unix:/path`, no DNS at all), the message lands in the recipient's Dovecot Maildir with
 * Dovecot's own Return-Path and Received header; a recipient Dovecot does not know gets a 5xx
 * of its own (at RCPT) while the others are delivered, and only that one is returned to the
 * sender.
 */
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WaitOptions, waitFor as waitUntil } from '@mailway/testing/wait';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Dovecot, dovecotLmtp, startDovecot } from '@mailway/testing/dovecot';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { type Harness, sendThrough, settled, startRelay } from './support/harness.js';

let root: string;
let dovecot: Dovecot;
let relays: Harness[] = [];

beforeAll(async () => {
  if (!dovecotLmtp) return;
  root = await mkdtemp(join(tmpdir(), 'mailway-relay-lmtp-'));
  // Dovecot writes the Maildirs as its mail user (nobody, when the tests run as root).
  await chmod(root, 0o777);
  dovecot = await startDovecot(root, { lmtp: true, users: ['ann@lists.test', 'ben@lists.test', 'ann@sock.test'] });
});
afterAll(async () => {
  await dovecot?.stop();
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(relays.map((h) => h.close()));
  relays = [];
});

/** A relay whose transport map hands the test domains to Dovecot; no DNS server is given, none is needed. */
async function relay(): Promise<Harness> {
  const lmtp = dovecot.lmtp;
  if (lmtp === null) throw new Error('Dovecot serves no LMTP');
  const h = await startRelay({
    env: {
      RELAY_NETWORKS: '127.0.0.0/8',
      RELAY_TRANSPORTS: `lists.test=lmtp:[127.0.0.1]:${lmtp.port},sock.test=lmtp:unix:${lmtp.socket}`,
      RELAY_BACKOFF_MIN: '150ms',
      RELAY_BACKOFF_MAX: '300ms',
    },
  });
  relays.push(h);
  return h;
}

/** Sends one message from bob@local.example through the relay's port 25; returns its queue id. */
const send = (h: Harness, to: string[], subject: string): Promise<string> => sendThrough(h, 'bob@local.example', to, { subject });

/** waitFor, with Dovecot's log in the error when the time is up. */
const waitFor = <T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, options: WaitOptions = {}): Promise<T> =>
  waitUntil(what, probe, { ...options, explain: async () => `dovecot log:\n${await dovecot.log()}` });


/** The messages in a Dovecot user's inbox whose Subject is `subject` (new/ and cur/). */
async function inbox(address: string, subject: string): Promise<string[]> {
  const [local = '', domain = ''] = address.split('@');
  const maildir = join(root, domain, local, 'Maildir');
  const found: string[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(maildir, sub)).catch(() => []);
    for (const name of names) {
      const text = await readFile(join(maildir, sub, name), 'utf8');
      if (text.includes(`\nSubject: ${subject}\n`)) found.push(text);
    }
  }
  return found;
}


describe.skipIf(!dovecotLmtp)('transport map entries to Dovecot LMTP (skipped: apt-get install dovecot-imapd dovecot-lmtpd)', () => {
  it('lmtp:[127.0.0.1]:port: each recipient’s message lands in its Dovecot mailbox', async () => {
    const h = await relay();
    const queueId = await send(h, ['ann@lists.test', 'ben@lists.test'], 'over lmtp tcp');
    await waitFor('the spool entry to go', settled(h, queueId));
    for (const address of ['ann@lists.test', 'ben@lists.test']) {
      const [stored, ...more] = await inbox(address, 'over lmtp tcp');
      expect(more).toEqual([]);
      // Dovecot's own headers (its Received names the relay's TCP address), then Mailway's Received, then the message.
      expect(stored).toMatch(/^Return-Path: <bob@local\.example>\nReceived: from mx\.local\.example \(\[127\.0\.0\.1\]\)\n\tby \S+ with LMTP\n/);
      expect(stored).toMatch(/\nReceived: from app\.internal\.example .* by mx\.local\.example\b/);
      expect(stored).toMatch(/\nSubject: over lmtp tcp\n\nHello Bob\.\n$/);
    }
    expect(h.logs.filter((l) => l.msg === 'delivered').map((l) => [l.to, l.remote, l.status])).toEqual([
      ['ann@lists.test', '127.0.0.1', '2.0.0'],
      ['ben@lists.test', '127.0.0.1', '2.0.0'],
    ]);
  });

  it('lmtp:unix:/path: the message lands in the Dovecot mailbox through the socket, reported as this host', async () => {
    const h = await relay();
    const queueId = await send(h, ['ann@sock.test'], 'over lmtp unix');
    await waitFor('the spool entry to go', settled(h, queueId));
    const [stored, ...more] = await inbox('ann@sock.test', 'over lmtp unix');
    expect(more).toEqual([]);
    // Dovecot's Received names no network address: the relay came in through the socket.
    expect(stored).toMatch(/^Return-Path: <bob@local\.example>\nDelivered-To: ann@sock\.test\nReceived: from mx\.local\.example\n\tby \S+ with LMTP\n/);
    expect(stored).toMatch(/\nSubject: over lmtp unix\n\nHello Bob\.\n$/);
    expect(h.logs.filter((l) => l.msg === 'delivered').map((l) => [l.to, l.remote, l.status])).toEqual([['ann@sock.test', 'mx.local.example', '2.0.0']]);
  });

  it('a recipient Dovecot does not know: 5xx for that one only, returned in a DSN; the other is delivered', async () => {
    const h = await relay();
    const queueId = await send(h, ['ann@sock.test', 'nobody@sock.test'], 'one unknown');
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(await inbox('ann@sock.test', 'one unknown')).toHaveLength(1);

    const [notice, ...more] = (await h.jobs('delivery')).filter((j) => j.data.from === '' && j.data.recipient.address === 'bob@local.example');
    expect(more).toEqual([]);
    const dsn = await parseDsn(await h.spool.readAll(notice?.data.spoolId ?? ''));
    expect(dsn.headers.Subject).toBe('Undelivered Mail Returned to Sender');
    expect(dsn.perRecipient).toEqual([
      expect.objectContaining({
        'Final-Recipient': 'rfc822; nobody@sock.test',
        Action: 'failed',
        Status: '5.1.1',
        'Remote-MTA': 'dns; mx.local.example',
        'Diagnostic-Code': expect.stringMatching(/^smtp; 550 5\.1\.1 .*nobody@sock\.test/),
      }),
    ]);
    expect(dsn.returned).toContain('Subject: one unknown');
    expect(h.logs.filter((l) => l.msg === 'delivered' || l.msg === 'delivery failed').map((l) => [l.msg, l.to, l.status])).toEqual([
      ['delivered', 'ann@sock.test', '2.0.0'],
      ['delivery failed', 'nobody@sock.test', '5.1.1'],
    ]);
  });
});
