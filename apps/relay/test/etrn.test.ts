/**
 * ETRN (RFC 1985) and held domains, with independent peers: Python's smtplib as the clients
 * (a stranger sending mail for the held domain, the site asking for it, a stranger asking for
 * it), Postfix's smtp-sink as the site's mail host, found by MX in dnsmasq (this relay is the
 * domain's second MX, as a site's backup relay is).
 *
 * Proves: mail for a held domain is accepted from anyone, queued, shown held by the queue
 * admin and not tried; a stranger's ETRN gets 459 and starts nothing; the site's ETRN gets 253
 * and the mail arrives, the spool empties; a second ETRN gets 251; `@domain` reaches the
 * domains below it; `#queue`, a domain not held and ETRN inside a transaction are refused; mail
 * the site's host defers after an ETRN waits for the site again instead of being retried; when
 * moving the mail on takes longer than the reply may wait, the reply is 250 "started" and the
 * mail still goes.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createQueueAdmin } from '@mailway/queue/admin';
import { dnsmasqForTests } from '@mailway/testing/dns';
import { waitFor } from '@mailway/testing/wait';
import { createLogger } from '@mailway/runtime';
import type { Session } from '@mailway/smtp/server';
import { parseHoldDomains } from '../src/pull/domains.js';
import { etrnHook } from '../src/pull/etrn.js';
import { pullLocks } from '../src/pull/locks.js';
import { relayNetworks } from '../src/policy/networks.js';
import { type Harness, settled, startOutboundRelay } from './support/harness.js';
import { type Sink, smtpSinkPath, startSink } from './support/sink.js';

const clients = { trusted: '127.0.0.1', site: '127.0.0.82', stranger: '127.0.0.83', sender: '127.0.0.84' } as const;
const siteHost = '127.0.0.81';

const world = dnsmasqForTests(
  {
    mx: [
      ['site.test', 'mx.site.test', 10],
      ['site.test', 'mx.local.example', 20],
      ['branch.site.test', 'mx.site.test', 10],
      ['other.test', 'mx.site.test', 10],
    ],
    hosts: [['mx.site.test', siteHost]],
  },
  [siteHost],
);

/** Python's smtplib: connects from `source`, says EHLO, runs `steps` (a message to send, or a command with docmd); prints what it saw. */
const script = String.raw`
import json, smtplib, sys
args = json.loads(sys.argv[1])
s = smtplib.SMTP('127.0.0.1', args['port'], local_hostname='client.site.test', source_address=(args['source'], 0))
s.ehlo()
out = {'etrn': s.has_extn('etrn'), 'replies': []}
for step in args['steps']:
    if step[0] == 'send':
        s.sendmail(step[1], step[2], step[3].encode())
        out['replies'].append('sent')
    else:
        code, text = s.docmd(step[0], step[1])
        out['replies'].append('%d %s' % (code, text.decode()))
s.quit()
print(json.dumps(out))
`;

type Step = readonly ['send', string, readonly string[], string] | readonly [string, string];

async function smtplib(h: Harness, source: string, steps: readonly Step[]): Promise<{ etrn: boolean; replies: string[] }> {
  const child = spawn('python3', ['-c', script, JSON.stringify({ port: h.agent.port, source, steps })], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`python3 failed (${code}): ${err}`);
  return JSON.parse(out) as { etrn: boolean; replies: string[] };
}

/** A message from a sender under .test, so that port 25's sender checks get their answers from the test DNS. */
const text = (to: string, subject: string): string => `From: carol@sender.test\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nFor the site.\r\n`;

async function relay(env: Record<string, string> = {}): Promise<Harness> {
  const h = await startOutboundRelay(world.dns.address, world.port, {
    RELAY_NETWORKS: `${clients.trusted}/32`,
    RELAY_HOLD_DOMAINS: 'site.test,.site.test',
    RELAY_ETRN_NETWORKS: `${clients.site}/32`,
    ...env,
  });
  onTestFinished(() => h.close());
  return h;
}

async function sink(flags: string[] = []): Promise<Sink> {
  const started = await startSink(siteHost, world.port, 'mx.site.test', flags);
  onTestFinished(() => started.stop());
  return started;
}

const rcpts = async (s: Sink): Promise<string[][]> => (await s.messages()).map((m) => m.records.filter(([k]) => k === 'X-Rcpt-Args').map(([, v]) => v.split(' ')[0] ?? ''));
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The queue as `mailway queue list` shows it. */
async function listed(h: Harness): Promise<{ queueId: string; recipients: { address: string; state: string }[] }[]> {
  const admin = createQueueAdmin(h.redis, { prefix: h.prefix });
  try {
    return (await admin.list()).map((m) => ({ queueId: m.queueId, recipients: m.recipients.map((r) => ({ address: r.address, state: r.state })) }));
  } finally {
    await admin.close();
  }
}

describe.skipIf(smtpSinkPath === null)('ETRN and held domains (skipped: smtp-sink is not installed)', () => {
  it('holds mail for the site until the site asks; a stranger asking starts nothing', async () => {
    const site = await sink();
    const h = await relay();

    // A stranger's mail for the held domain is taken (this relay is its backup MX), and held.
    const sent = await smtplib(h, clients.sender, [['send', 'carol@sender.test', ['x@site.test', 'y@site.test'], text('x@site.test', 'held')]]);
    expect(sent.etrn).toBe(true);
    await waitFor('the message to be held', async () => (await listed(h)).some((m) => m.recipients.every((r) => r.state === 'held') && m.recipients.length === 2));
    const [message] = await listed(h);
    expect(message?.recipients).toEqual([
      { address: 'x@site.test', state: 'held' },
      { address: 'y@site.test', state: 'held' },
    ]);
    await pause(700);
    expect(await site.messages()).toEqual([]);

    // A stranger asks: refused, nothing moves.
    const stranger = await smtplib(h, clients.stranger, [['ETRN', 'site.test']]);
    expect(stranger.replies).toEqual(['459 4.7.1 Node site.test not allowed: unauthorized client']);
    await pause(700);
    expect(await site.messages()).toEqual([]);
    expect((await listed(h))[0]?.recipients.map((r) => r.state)).toEqual(['held', 'held']);

    // Queue names, domains not held, and ETRN inside a transaction.
    const odd = await smtplib(h, clients.site, [
      ['ETRN', '#site'],
      ['ETRN', 'other.test'],
      ['MAIL', 'FROM:<postmaster@site.test>'],
      ['ETRN', 'site.test'],
      ['RSET', ''],
      ['ETRN', 'bad node'],
    ]);
    expect(odd.replies).toEqual([
      '459 4.3.0 Node #site not allowed: queue names are not supported',
      '459 4.3.0 Node other.test not allowed: no mail is held for it',
      '250 2.1.0 Sender OK',
      '503 5.5.1 ETRN not allowed during a mail transaction',
      '250 2.0.0 OK',
      '501 5.5.4 Syntax: ETRN node',
    ]);
    expect(await site.messages()).toEqual([]);

    // The site asks: its mail goes, once; asked again, there is none.
    const asked = await smtplib(h, clients.site, [['ETRN', 'site.test']]);
    expect(asked.replies).toEqual(['253 2.0.0 OK, 1 pending messages for node site.test started']);
    await waitFor('the spool entry to go', settled(h, message?.queueId ?? ''));
    expect(await rcpts(site)).toEqual([['<x@site.test>', '<y@site.test>']]);
    expect(await listed(h)).toEqual([]);
    const again = await smtplib(h, clients.site, [['ETRN', 'site.test']]);
    expect(again.replies).toEqual(['251 2.0.0 OK, no messages waiting for node site.test']);

    expect(await h.metric(/^mailway_relay_etrn_total\{.*outcome="refused"/)).toBe(3);
    expect(await h.metric(/^mailway_relay_etrn_total\{.*outcome="started"/)).toBe(1);
    expect(await h.metric(/^mailway_relay_etrn_total\{.*outcome="none"/)).toBe(1);
    expect(h.logs.filter((l) => l.msg === 'etrn').map((l) => [l.node, l.outcome, l.ip])).toContainEqual(['site.test', 'started', clients.site]);
  });

  it('@domain reaches the domains below it, a bare domain only itself; a client in RELAY_NETWORKS may ask too', async () => {
    const site = await sink();
    const h = await relay();
    await smtplib(h, clients.sender, [['send', 'carol@sender.test', ['a@branch.site.test'], text('a@branch.site.test', 'branch')]]);
    await waitFor('the message to be held', async () => (await listed(h))[0]?.recipients[0]?.state === 'held');
    // `site.test` names that domain only.
    expect((await smtplib(h, clients.trusted, [['ETRN', 'site.test']])).replies).toEqual(['251 2.0.0 OK, no messages waiting for node site.test']);
    expect((await smtplib(h, clients.trusted, [['ETRN', '@site.test']])).replies).toEqual(['253 2.0.0 OK, 1 pending messages for node @site.test started']);
    await waitFor('delivery', async () => (await rcpts(site)).length === 1);
    expect(await rcpts(site)).toEqual([['<a@branch.site.test>']]);
  });

  it('mail the site’s host defers after an ETRN waits for the site again, and goes at the next ETRN', async () => {
    let site = await sink(['-r', 'RCPT']);
    const h = await relay();
    await smtplib(h, clients.sender, [['send', 'carol@sender.test', ['x@site.test'], text('x@site.test', 'deferred')]]);
    await waitFor('the message to be held', async () => (await listed(h))[0]?.recipients[0]?.state === 'held');
    const queueId = (await listed(h))[0]?.queueId ?? '';

    expect((await smtplib(h, clients.site, [['ETRN', 'site.test']])).replies[0]).toMatch(/^253 /);
    const [deferral] = await waitFor('the deferral', () => {
      const found = h.logs.filter((l) => l.msg === 'delivery deferred');
      return found.length > 0 ? found : null;
    });
    expect(deferral).toMatchObject({ to: 'x@site.test', remote: 'mx.site.test', attempt: 1 });
    await waitFor('held again', async () => (await listed(h))[0]?.recipients[0]?.state === 'held');
    // Not retried by back-off (150–300 ms here): it waits for the site.
    await pause(1_000);
    expect(h.logs.filter((l) => l.msg === 'delivery deferred')).toHaveLength(1);

    await site.stop();
    site = await sink();
    expect((await smtplib(h, clients.site, [['ETRN', 'site.test']])).replies[0]).toBe('253 2.0.0 OK, 1 pending messages for node site.test started');
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(await rcpts(site)).toEqual([['<x@site.test>']]);
  });

  it('answers 250 "started" when the mail takes longer to move on than the reply waits, and the mail still goes', async () => {
    const site = await sink();
    const h = await relay();
    const queueId = await smtplib(h, clients.sender, [['send', 'carol@sender.test', ['x@site.test'], text('x@site.test', 'slow')]]).then(async () => {
      await waitFor('the message to be held', async () => (await listed(h))[0]?.recipients[0]?.state === 'held');
      return (await listed(h))[0]?.queueId ?? '';
    });
    const admin = createQueueAdmin(h.redis, { prefix: h.prefix });
    onTestFinished(() => admin.close());
    const requests: string[] = [];
    const hook = etrnHook({
      holds: parseHoldDomains(['site.test']),
      networks: relayNetworks([]),
      etrnNetworks: relayNetworks([`${clients.site}/32`]),
      admin,
      locks: pullLocks(h.redis, h.prefix),
      logger: createLogger({ name: 'etrn', level: 'silent' }),
      requests: { inc: ({ outcome }) => void requests.push(outcome) },
      replyWithin: 0,
    });
    const session = { id: 'etrn-test', remote: { address: clients.site, port: 1 }, local: { address: '127.0.0.1', port: 25 }, lmtp: false, tls: null, helo: null, user: null, transactions: 0, locals: {} } satisfies Session;
    expect(await hook(session, 'site.test')).toMatchObject({ kind: 'accept', reply: { code: 250, enhanced: '2.0.0', lines: ['OK, queuing for node site.test started'] } });
    expect(requests).toEqual(['started']);
    await waitFor('the spool entry to go', settled(h, queueId));
    expect(await rcpts(site)).toEqual([['<x@site.test>']]);
  });
});
