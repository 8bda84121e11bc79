/**
 * Sending to other domains, end to end through a real relay agent: mail accepted on its port
 * 25 is routed by MX records that dnsmasq serves, delivered to receiving servers
 * (nodemailer's smtp-server) on distinct loopback addresses, retried, and returned to its
 * sender with a DSN that Python's email package reads back. Retry waits are shortened by
 * setting, as an operator would.
 */
import { createQueueAdmin } from '@mailway/queue/admin';
import { waitFor } from '@mailway/testing/wait';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { dnsmasqForTests, startFlakyDns } from '@mailway/testing/dns';
import { type Harness, message, queueIdOf, sendThrough, settled, startOutboundRelay } from './support/harness.js';
import { type Peer, type PeerScript, startPeer } from './support/peers.js';
import { parseDsn } from '@mailway/testing/dsn-parse';

const addresses = { mx1: '127.0.0.51', mx2: '127.0.0.52', origin: '127.0.0.53', smarthost: '127.0.0.54', lmtp: '127.0.0.55', looping: '127.0.0.56', down: '127.0.0.57' } as const;

const world = dnsmasqForTests(
  {
    mx: [
      ['dest.test', 'mx1.dest.test', 10],
      ['dest.test', 'mx2.dest.test', 20],
      ['origin.test', 'mx.origin.test', 10],
      ['nullmx.test', '.', 0],
      ['loop.test', 'mail.loop.test', 10],
      ['down.test', 'mx.down.test', 10],
    ],
    hosts: [
      ['mx1.dest.test', addresses.mx1],
      ['mx2.dest.test', addresses.mx2],
      ['mx.origin.test', addresses.origin],
      ['mail.loop.test', addresses.looping],
      ['mx.down.test', addresses.down],
    ],
  },
  Object.values(addresses),
);

/** A receiving server on `address`, closed after the test. */
async function peer(address: string, script: PeerScript = {}): Promise<Peer> {
  const started = await startPeer(address, world.port, script);
  onTestFinished(() => started.close());
  return started;
}

/** A relay whose outbound side uses the test DNS and port, with retries shortened; closed after the test (before the servers it sends to, started earlier). */
async function relay(env: Record<string, string> = {}): Promise<Harness> {
  const h = await startOutboundRelay(world.dns.address, world.port, env);
  onTestFinished(() => h.close());
  return h;
}

/** Sends one message through the relay's port 25; returns its queue id. */
const send = (h: Harness, from: string, to: string[], options: { mailParams?: string } = {}): Promise<string> => sendThrough(h, from, to, options);

/** Sends one message to `to` with a NOTIFY parameter; returns its queue id. */
async function sendNotify(h: Harness, to: string, notify: string): Promise<string> {
  const { dialog } = await Dialog.open(h.agent.port);
  await dialog.command('EHLO app.internal.example');
  expect((await dialog.command('MAIL FROM:<bob@local.example>')).code).toBe(250);
  expect((await dialog.command(`RCPT TO:<${to}> NOTIFY=${notify}`)).code).toBe(250);
  const reply = await dialog.data(message({ to }));
  await dialog.close();
  expect(reply.status).toBe('250 2.0.0');
  return queueIdOf(reply.text);
}


/** The notices Mailway queued for local delivery to `to`: parsed DSNs. */
async function noticesFor(h: Harness, to: string, count: number): Promise<Awaited<ReturnType<typeof parseDsn>>[]> {
  const jobs = await waitFor(`${count} notice(s) to ${to}`, async () => {
    const found = (await h.jobs('delivery')).filter((j) => j.data.recipient.address === to && j.data.from === '');
    return found.length >= count ? found : null;
  });
  return Promise.all(jobs.map(async (j) => parseDsn(await h.spool.readAll(j.data.spoolId))));
}


describe('delivery to another domain', () => {
  it('goes to the most preferred MX host, and the content is released once delivered', async () => {
    const mx1 = await peer(addresses.mx1);
    const mx2 = await peer(addresses.mx2);
    const h = await relay();
    const queueId = await send(h, 'bob@local.example', ['x@dest.test', 'y@dest.test']);
    await waitFor('delivery', () => mx1.received.length === 1);
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(mx1.received[0]).toMatchObject({ from: 'bob@local.example', to: ['x@dest.test', 'y@dest.test'], tls: true });
    expect(mx1.received[0]?.body.toString()).toMatch(/^Received: from .*\r\n(\s.*\r\n)*From: bob@local.example\r\n/);
    expect(mx2.received).toEqual([]);
    expect(h.logs.filter((l) => l.msg === 'delivered').map((l) => [l.to, l.remote, l.status])).toEqual([
      ['x@dest.test', 'mx1.dest.test', '2.0.0'],
      ['y@dest.test', 'mx1.dest.test', '2.0.0'],
    ]);
    expect(await h.metric(/^mailway_relay_outbound_recipients_total\{.*outcome="delivered"/)).toBe(2);
  });

  it('a domain whose DNS fails for now (SERVFAIL) is retried, and delivered once DNS answers', async () => {
    const mx1 = await peer(addresses.mx1);
    const flaky = await startFlakyDns(world.dns);
    try {
      const h = await relay({ RELAY_DNS_SERVERS: flaky.address });
      const queueId = await send(h, 'bob@local.example', ['x@dest.test']);
      const first = await waitFor('a deferred attempt', async () => {
        const job = (await h.jobs('outbound')).find((j) => j.data.queueId === queueId);
        return job?.data.progress?.last[0] ?? null;
      });
      expect(first).toMatchObject({ state: 'deferred', status: '4.4.3' });
      expect(mx1.received).toHaveLength(0);
      flaky.heal();
      await waitFor('delivery once DNS answers', () => mx1.received.length === 1);
      await waitFor('the content released', settled(h, queueId));
    } finally {
      await flaky.stop();
    }
  });

  it('a message held by the operator is not tried until released, then goes', async () => {
    const script: { greeting?: number } = { greeting: 421 };
    const mx1 = await peer(addresses.mx1, script);
    const h = await relay({ RELAY_OUTBOUND_DOWN_TIME: '0' });
    const queueId = await send(h, 'bob@local.example', ['x@dest.test']);
    await waitFor('a deferred attempt', async () => (await h.jobs('outbound')).find((j) => j.data.queueId === queueId)?.data.progress?.attempts === 1);
    const admin = createQueueAdmin(h.redis, { prefix: h.prefix, spool: h.spool });
    await admin.hold(queueId);

    // The host is back, and retries come every 150-300 ms: a held message still waits.
    delete script.greeting;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(mx1.received).toHaveLength(0);

    await admin.release(queueId);
    await admin.close();
    await waitFor('delivery once released', () => mx1.received.length === 1);
    await waitFor('the content released', settled(h, queueId));
  });

  it('connects from the configured source address', async () => {
    const mx1 = await peer(addresses.mx1);
    const h = await relay({ RELAY_OUTBOUND_BIND_ADDRESS: '127.0.0.58' });
    await send(h, 'bob@local.example', ['x@dest.test']);
    await waitFor('delivery', () => mx1.received.length === 1);
    expect(mx1.clients).toEqual(['127.0.0.58']);
  });

  it('falls back to the next MX host when the first does not answer', async () => {
    const mx2 = await peer(addresses.mx2);
    const h = await relay();
    await send(h, 'bob@local.example', ['x@dest.test']);
    await waitFor('delivery at the second MX', () => mx2.received.length === 1);
  });

  it('a destination no host of which answers is marked down: its other mail waits without connecting, then goes', async () => {
    const script: { greeting?: number } = { greeting: 421 };
    const mx = await peer(addresses.down, script);
    const h = await relay({ RELAY_OUTBOUND_DOWN_TIME: '1500ms' });
    const first = await send(h, 'bob@local.example', ['x@down.test']);
    await waitFor('the destination marked down', async () => (await h.redis.pttl(`${h.prefix}outbound:down:down.test`)) > 0);
    expect(mx.connections).toBe(1);

    // A second message, and the first one's retries, while it is down: deferred, no connection.
    const second = await send(h, 'bob@local.example', ['y@down.test']);
    const suspended = await waitFor('the second message deferred', async () => {
      const job = (await h.jobs('outbound')).find((j) => j.data.queueId === second);
      return job?.data.progress?.last[0]?.diagnostic ?? null;
    });
    expect(suspended).toMatch(/^delivery temporarily suspended: .*421/);
    expect(mx.connections).toBe(1);

    // Up again: once the mark lapses, both go.
    delete script.greeting;
    await waitFor('both delivered', () => mx.received.length === 2, { timeoutMs: 10_000 });
    expect(mx.received.map((m) => m.to[0]).sort()).toEqual(['x@down.test', 'y@down.test']);
    await waitFor('the first message settled', settled(h, first));
  });

  it('retries only the recipients deferred, and delivers each exactly once', async () => {
    const script: { rcpt?: Record<string, number> } = { rcpt: { 'busy@dest.test': 452 } };
    const mx1 = await peer(addresses.mx1, script);
    const h = await relay();
    const queueId = await send(h, 'bob@local.example', ['x@dest.test', 'busy@dest.test']);
    await waitFor('the first attempt', () => h.logs.some((l) => l.msg === 'delivery deferred' && l.to === 'busy@dest.test'));
    delete script.rcpt;
    await waitFor('the retry', () => mx1.received.length === 2);
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(mx1.received.map((m) => m.to)).toEqual([['x@dest.test'], ['busy@dest.test']]);
  });
});

describe('SMTPUTF8', () => {
  it('is asked of the next hop only when needed: an ASCII message sent with SMTPUTF8 reaches a host without it', async () => {
    const mx1 = await peer(addresses.mx1, { hideSmtpUtf8: true });
    const h = await relay();
    const queueId = await send(h, 'bob@local.example', ['x@dest.test'], { mailParams: ' SMTPUTF8' });
    await waitFor('delivery', () => mx1.received.length === 1);
    await waitFor('the spool entry to go', settled(h, queueId));
  });

  it('a UTF-8 header to a host without SMTPUTF8 is returned with 5.6.7, not sent', async () => {
    const mx1 = await peer(addresses.mx1, { hideSmtpUtf8: true });
    const h = await relay();
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.command('EHLO app.internal.example');
    expect((await dialog.command('MAIL FROM:<bob@local.example> SMTPUTF8 BODY=8BITMIME')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<x@dest.test>')).code).toBe(250);
    expect((await dialog.data(message({ to: 'x@dest.test', subject: 'Grüße' }))).status).toBe('250 2.0.0');
    await dialog.close();
    const [dsn] = await noticesFor(h, 'bob@local.example', 1);
    expect(dsn?.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; x@dest.test', Action: 'failed', Status: '5.6.7' });
    expect(mx1.received).toEqual([]);
  });
});

describe('notifications', () => {
  it('a recipient refused for good is returned to a local sender in a DSN; the others are delivered', async () => {
    const mx1 = await peer(addresses.mx1, { rcpt: { 'gone@dest.test': 550 } });
    const h = await relay();
    const queueId = await send(h, 'bob@local.example', ['x@dest.test', 'gone@dest.test']);
    const [dsn] = await noticesFor(h, 'bob@local.example', 1);
    expect(mx1.received.map((m) => m.to)).toEqual([['x@dest.test']]);
    expect(dsn?.headers).toMatchObject({ Subject: 'Undelivered Mail Returned to Sender', To: '<bob@local.example>', 'Auto-Submitted': 'auto-replied' });
    expect(dsn?.perMessage).toMatchObject({ 'Reporting-MTA': 'dns; mx.local.example', 'X-Mailway-Queue-ID': queueId });
    expect(dsn?.perRecipient).toEqual([
      expect.objectContaining({
        'Final-Recipient': 'rfc822; gone@dest.test',
        Action: 'failed',
        Status: expect.stringMatching(/^5\./),
        'Remote-MTA': 'dns; mx1.dest.test',
        'Diagnostic-Code': expect.stringMatching(/^smtp; 550 /),
      }),
    ]);
    expect(dsn?.returned).toContain('Subject: outbound test');
    await waitFor('the original to be released', settled(h, queueId));
  });

  it('a bounce to a remote sender travels back to the sender’s own MX, from the null sender', async () => {
    await peer(addresses.mx1, { rcpt: { 'gone@dest.test': 550 } });
    const origin = await peer(addresses.origin);
    const h = await relay();
    await send(h, 'carol@origin.test', ['gone@dest.test']);
    await waitFor('the bounce at origin.test', () => origin.received.length === 1);
    expect(origin.received[0]).toMatchObject({ from: '', to: ['carol@origin.test'] });
    const dsn = await parseDsn(origin.received[0]?.body ?? Buffer.alloc(0));
    expect(dsn.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; gone@dest.test', Action: 'failed' });
  });

  it('a bounce in plain ASCII reaches a sender whose MX does not offer 8BITMIME', async () => {
    await peer(addresses.mx1, { rcpt: { 'gone@dest.test': 550 } });
    const origin = await peer(addresses.origin, { hide8BitMime: true });
    const h = await relay();
    await send(h, 'carol@origin.test', ['gone@dest.test']);
    await waitFor('the bounce at origin.test', () => origin.received.length === 1 || h.logs.some((l) => l.msg === 'delivery failed; a notification is never returned'));
    expect(origin.received.map((m) => m.to)).toEqual([['carol@origin.test']]);
  });

  it('a message from the null sender that fails is dropped, never returned', async () => {
    await peer(addresses.mx1, { rcpt: { 'gone@dest.test': 550 } });
    const h = await relay();
    const queueId = await send(h, '', ['gone@dest.test']);
    await waitFor('the content to be released', settled(h, queueId));
    expect(h.logs.some((l) => l.msg === 'delivery failed; a notification is never returned' && l.to === 'gone@dest.test')).toBe(true);
    expect((await h.jobs('transfer')).map((j) => j.data.queueId)).toEqual([queueId]);
  });

  it('a null MX fails at once with 5.1.10, without a connection', async () => {
    const h = await relay();
    await send(h, 'bob@local.example', ['x@nullmx.test']);
    const [dsn] = await noticesFor(h, 'bob@local.example', 1);
    expect(dsn?.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; x@nullmx.test', Action: 'failed', Status: '5.1.10' });
    expect(dsn?.perRecipient[0]?.['Remote-MTA']).toBeUndefined();
  });

  it('an MX host that greets with this host’s name is this host: 5.4.6, the message not sent to it', async () => {
    const looping = await peer(addresses.looping, { name: 'mx.local.example' });
    const h = await relay();
    await send(h, 'bob@local.example', ['x@loop.test']);
    const [dsn] = await noticesFor(h, 'bob@local.example', 1);
    expect(dsn?.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; x@loop.test', Action: 'failed', Status: '5.4.6' });
    expect(looping.received).toEqual([]);
  });

  it('NOTIFY=NEVER asks for no bounce', async () => {
    await peer(addresses.mx1, { rcpt: { 'gone@dest.test': 550 } });
    const h = await relay();
    const { dialog } = await Dialog.open(h.agent.port);
    await dialog.command('EHLO app.internal.example');
    await dialog.command('MAIL FROM:<bob@local.example>');
    expect((await dialog.command('RCPT TO:<gone@dest.test> NOTIFY=NEVER')).code).toBe(250);
    const reply = await dialog.data(message({ to: 'gone@dest.test' }));
    await dialog.close();
    await waitFor('the content to be released', settled(h, queueIdOf(reply.text)));
    expect((await h.jobs('delivery')).filter((j) => j.data.from === '')).toEqual([]);
  });

  it('NOTIFY=SUCCESS to a next hop that offers DSN is passed on, and Mailway sends no "relayed" notice of its own', async () => {
    const mx1 = await peer(addresses.mx1, { dsn: true });
    const h = await relay();
    const queueId = await sendNotify(h, 'x@dest.test', 'SUCCESS');
    await waitFor('the content to be released', settled(h, queueId));
    expect(mx1.received[0]?.rcptParams).toEqual([expect.objectContaining({ NOTIFY: 'SUCCESS' })]);
    // The next hop reports the success itself (RFC 3461 §6.2.1); a second notice would be a duplicate.
    expect((await h.jobs('transfer')).map((j) => j.data.queueId)).toEqual([queueId]);
  });

  it('NOTIFY=SUCCESS to a next hop without DSN: one "relayed" notice', async () => {
    await peer(addresses.mx1);
    const h = await relay();
    await sendNotify(h, 'x@dest.test', 'SUCCESS');
    const [dsn] = await noticesFor(h, 'bob@local.example', 1);
    expect(dsn?.headers.Subject).toBe('Successful Mail Delivery Report');
    expect(dsn?.perRecipient[0]).toMatchObject({ 'Final-Recipient': 'rfc822; x@dest.test', Action: 'relayed', Status: expect.stringMatching(/^2\./) });
  });

  it('a message that waits too long: one delay notice, then a bounce when its lifetime runs out (4.4.7)', async () => {
    const mx1 = await peer(addresses.mx1, { greeting: 421 });
    const h = await relay({ RELAY_DELAY_WARNING: '200ms', RELAY_QUEUE_LIFETIME: '1500ms', RELAY_OUTBOUND_DOWN_TIME: '250ms' });
    const queueId = await send(h, 'bob@local.example', ['x@dest.test']);
    const notices = await noticesFor(h, 'bob@local.example', 2);
    const bySubject = new Map(notices.map((n) => [n.headers.Subject, n]));
    expect([...bySubject.keys()].sort()).toEqual(['Delayed Mail (still being retried)', 'Undelivered Mail Returned to Sender']);
    expect(bySubject.get('Delayed Mail (still being retried)')?.perRecipient[0]).toMatchObject({ Action: 'delayed', 'Will-Retry-Until': expect.any(String) });
    expect(bySubject.get('Undelivered Mail Returned to Sender')?.perRecipient[0]).toMatchObject({ Action: 'failed', Status: '4.4.7', 'Diagnostic-Code': expect.stringMatching(/^X-Mailway; delivery time expired; last attempt: (delivery temporarily suspended: )?(421 |connect: connect ECONNREFUSED)/) });
    expect(mx1.connections).toBeGreaterThan(1);
    await waitFor('the content to be released', settled(h, queueId));
    // Still exactly one delay notice.
    expect((await h.jobs('delivery')).filter((j) => j.data.from === '')).toHaveLength(2);
  });
});

describe('configured next hops', () => {
  it('a smart host with AUTH takes all remote mail, over STARTTLS', async () => {
    const mx1 = await peer(addresses.mx1);
    const smarthost = await peer(addresses.smarthost, { auth: { user: 'relay-user', pass: 'relay-secret' } });
    const h = await relay({ RELAY_SMARTHOST: `[${addresses.smarthost}]:${world.port}`, RELAY_SMARTHOST_USER: 'relay-user', RELAY_SMARTHOST_PASSWORD: 'relay-secret' });
    await send(h, 'bob@local.example', ['x@dest.test', 'z@elsewhere.test']);
    await waitFor('both domains at the smart host', () => smarthost.received.length === 2);
    expect(smarthost.received.map((m) => ({ to: m.to, user: m.user, tls: m.tls })).sort((a, b) => (a.to[0] ?? '').localeCompare(b.to[0] ?? ''))).toEqual([
      { to: ['x@dest.test'], user: 'relay-user', tls: true },
      { to: ['z@elsewhere.test'], user: 'relay-user', tls: true },
    ]);
    expect(mx1.received).toEqual([]);
  });

  it('a transport map entry hands a domain over LMTP to a fixed host', async () => {
    const lmtp = await peer(addresses.lmtp, { lmtp: true });
    const h = await relay({ RELAY_TRANSPORTS: `lists.test=lmtp:[${addresses.lmtp}]:${world.port}` });
    await send(h, 'bob@local.example', ['announce@lists.test']);
    await waitFor('delivery over LMTP', () => lmtp.received.length === 1);
    expect(lmtp.received[0]?.to).toEqual(['announce@lists.test']);
  });

  it('a next hop that does not resolve defers, never bounces', async () => {
    const h = await relay({ RELAY_SMARTHOST: 'smtp:[nowhere.test]' });
    await send(h, 'bob@local.example', ['x@dest.test']);
    await waitFor('the first attempt', () => h.logs.some((l) => l.msg === 'delivery deferred' && l.status === '4.4.3'));
    expect((await h.jobs('delivery')).filter((j) => j.data.from === '')).toEqual([]);
  });
});
