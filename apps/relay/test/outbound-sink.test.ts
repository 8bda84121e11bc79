/**
 * The outbound worker against Postfix's smtp-sink, an independent SMTP server, as the MX hosts
 * of a remote domain (MX records from dnsmasq, hosts on their own loopback addresses): a plain
 * delivery arrives whole; a 4xx to RCPT defers and the message is retried until a host takes
 * it; a 5xx to RCPT returns the recipient to its sender in a DSN that Python's email package
 * reads back; a host that drops the connection after the final dot, never answering it, leaves
 * the message to the next MX host, or to the next attempt, and exactly one copy arrives.
 */
import { waitFor } from '@mailway/testing/wait';
import { describe, expect, it, onTestFinished } from 'vitest';
import { dnsmasqForTests } from '@mailway/testing/dns';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { type Harness, sendThrough, settled, startOutboundRelay } from './support/harness.js';
import { type Sink, smtpSinkPath, startSink } from './support/sink.js';

const addresses = { mx1: '127.0.0.71', mx2: '127.0.0.72' } as const;

const world = dnsmasqForTests(
  {
    mx: [
      ['sink.test', 'mx1.sink.test', 10],
      ['sink.test', 'mx2.sink.test', 20],
      ['one.sink.test', 'mx1.sink.test', 10],
    ],
    hosts: [
      ['mx1.sink.test', addresses.mx1],
      ['mx2.sink.test', addresses.mx2],
    ],
  },
  Object.values(addresses),
);

/** smtp-sink as `which` MX host, with its own faults; stopped after the test, if the test has not stopped it. */
async function sink(which: keyof typeof addresses, flags: string[] = []): Promise<Sink> {
  const started = await startSink(addresses[which], world.port, `${which}.sink.test`, flags);
  onTestFinished(() => started.stop());
  return started;
}

/** A relay whose outbound side uses the test DNS and port, with retries shortened; closed after the test. */
async function relay(): Promise<Harness> {
  const h = await startOutboundRelay(world.dns.address, world.port);
  onTestFinished(() => h.close());
  return h;
}

/** Sends one message from bob@local.example through the relay's port 25; returns its queue id. */
const send = (h: Harness, to: string[]): Promise<string> => sendThrough(h, 'bob@local.example', to, { subject: 'to the sink' });



/** Notices Mailway wrote to bob@local.example (queued for local delivery, from the null sender). */
const notices = async (h: Harness): Promise<{ data: { spoolId: string } }[]> => (await h.jobs('delivery')).filter((j) => j.data.from === '' && j.data.recipient.address === 'bob@local.example');

/** The relay's per-recipient log lines with message `msg`. */
const lines = (h: Harness, msg: string): Record<string, unknown>[] => h.logs.filter((l) => l.msg === msg);

describe.skipIf(smtpSinkPath === null)('outbound to Postfix smtp-sink (skipped: smtp-sink is not installed; apt-get install postfix)', () => {
  it('delivers to the most preferred MX host: the envelope and the message arrive as sent', async () => {
    const mx1 = await sink('mx1');
    const mx2 = await sink('mx2');
    const h = await relay();
    const queueId = await send(h, ['x@sink.test', 'y@sink.test']);
    await waitFor('the spool entry to go', settled(h, queueId));

    const [dump, ...more] = await mx1.messages();
    expect(more).toEqual([]);
    expect(dump?.records.find(([k]) => k === 'X-Mail-Args')?.[1]).toMatch(/^<bob@local\.example>( |$)/);
    expect(dump?.records.filter(([k]) => k === 'X-Rcpt-Args').map(([, v]) => v.split(' ')[0])).toEqual(['<x@sink.test>', '<y@sink.test>']);
    expect(dump?.records.find(([k]) => k === 'X-Helo-Args')?.[1]).toBe('mx.local.example');
    // Mailway's own trace header first, then the message as it was accepted.
    expect(dump?.text).toMatch(/^Received: from .* by mx\.local\.example\b.*\n(\s.*\n)*From: bob@local\.example\nTo: x@sink\.test, y@sink\.test\nSubject: to the sink\n\nHello Bob\.\n/);
    expect(await mx2.messages()).toEqual([]);
    expect(lines(h, 'delivered').map((l) => [l.to, l.remote, l.status])).toEqual([
      ['x@sink.test', 'mx1.sink.test', '2.0.0'],
      ['y@sink.test', 'mx1.sink.test', '2.0.0'],
    ]);
  });

  it('4xx to every RCPT defers the recipient; it is retried, and delivered once a host takes it', async () => {
    let mx1 = await sink('mx1', ['-r', 'RCPT']);
    const h = await relay();
    const queueId = await send(h, ['x@sink.test']);
    // Two attempts refused for now: a retry, never a bounce, and no other host for a decided recipient.
    const deferrals = await waitFor('two deferred attempts', () => {
      const found = lines(h, 'delivery deferred');
      return found.length >= 2 ? found : null;
    });
    expect(deferrals.slice(0, 2).map((l) => [l.to, l.remote, l.attempt, String(l.status)[0], String(l.diagnostic).slice(0, 4)])).toEqual([
      ['x@sink.test', 'mx1.sink.test', 1, '4', '450 '],
      ['x@sink.test', 'mx1.sink.test', 2, '4', '450 '],
    ]);
    expect(await mx1.messages()).toEqual([]);

    // The host takes mail again.
    await mx1.stop();
    mx1 = await sink('mx1');
    await waitFor('the spool entry to go', settled(h, queueId));
    expect((await mx1.messages()).map((m) => m.records.filter(([k]) => k === 'X-Rcpt-Args').map(([, v]) => v))).toEqual([['<x@sink.test>']]);
    expect(lines(h, 'delivered')).toEqual([expect.objectContaining({ to: 'x@sink.test', remote: 'mx1.sink.test' })]);
    expect(await notices(h)).toEqual([]);
  });

  it('5xx to RCPT fails the recipient at once: a DSN to the sender quotes the host’s reply', async () => {
    const mx1 = await sink('mx1', ['-f', 'RCPT', '-B', '550 5.1.1 Recipient address rejected: no such user']);
    const mx2 = await sink('mx2');
    const h = await relay();
    const queueId = await send(h, ['gone@sink.test']);
    const [job] = await waitFor('the notice', async () => {
      const found = await notices(h);
      return found.length === 1 ? found : null;
    });
    const dsn = await parseDsn(await h.spool.readAll(job?.data.spoolId ?? ''));
    expect(dsn.contentType).toBe('multipart/report');
    expect(dsn.reportType).toBe('delivery-status');
    expect(dsn.headers).toMatchObject({ Subject: 'Undelivered Mail Returned to Sender', To: '<bob@local.example>', 'Auto-Submitted': 'auto-replied' });
    expect(dsn.perMessage).toMatchObject({ 'Reporting-MTA': 'dns; mx.local.example', 'X-Mailway-Queue-ID': queueId });
    expect(dsn.perRecipient).toEqual([
      expect.objectContaining({
        'Final-Recipient': 'rfc822; gone@sink.test',
        Action: 'failed',
        Status: '5.1.1',
        'Remote-MTA': 'dns; mx1.sink.test',
        'Diagnostic-Code': 'smtp; 550 5.1.1 Recipient address rejected: no such user',
      }),
    ]);
    expect(dsn.returned).toContain('Subject: to the sink');
    await waitFor('the original to be released', settled(h, queueId));
    // The host decided about the recipient: the next MX host is not asked.
    expect(await mx1.messages()).toEqual([]);
    expect(await mx2.messages()).toEqual([]);
    expect(lines(h, 'delivery failed').map((l) => [l.to, l.attempt, l.status])).toEqual([['gone@sink.test', 1, '5.1.1']]);
  });

  it('a host that drops the connection after the final dot leaves the message to the next MX host: one copy there', async () => {
    const mx1 = await sink('mx1', ['-q', '.']);
    const mx2 = await sink('mx2');
    const h = await relay();
    const queueId = await send(h, ['x@sink.test']);
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(lines(h, 'delivered').map((l) => [l.to, l.remote, l.attempt])).toEqual([['x@sink.test', 'mx2.sink.test', 1]]);
    // Nothing more comes: the one attempt ended with the delivery.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await mx2.messages()).map((m) => m.records.filter(([k]) => k === 'X-Rcpt-Args').map(([, v]) => v))).toEqual([['<x@sink.test>']]);
    expect(lines(h, 'delivered')).toHaveLength(1);
    // The first host kept what it never acknowledged: a duplicate SMTP cannot rule out (RFC 1047).
    expect(await mx1.messages()).toHaveLength(1);
  });

  it('the only MX host drops the connection after the final dot: deferred (4.4.2), retried, one copy once a host answers', async () => {
    let mx1 = await sink('mx1', ['-q', '.']);
    const h = await relay();
    const queueId = await send(h, ['x@one.sink.test']);
    const [deferral] = await waitFor('a deferred attempt', () => {
      const found = lines(h, 'delivery deferred');
      return found.length >= 1 ? found : null;
    });
    expect(deferral).toMatchObject({ to: 'x@one.sink.test', status: '4.4.2', attempt: 1 });
    expect(lines(h, 'delivery failed')).toEqual([]);

    await mx1.stop();
    mx1 = await sink('mx1');
    await waitFor('the spool entry to go', settled(h, queueId));
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await mx1.messages()).toHaveLength(1);
    expect(lines(h, 'delivered')).toEqual([expect.objectContaining({ to: 'x@one.sink.test', remote: 'mx1.sink.test' })]);
    expect(await notices(h)).toEqual([]);
  });
});
