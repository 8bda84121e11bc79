/**
 * Inbound SMTP from an independent peer: Python's smtplib hands a message for a local user to
 * the relay port; it becomes a delivery job carrying the envelope (straight from the intake for
 * one local recipient, carrying the message itself when it is small; through the transfer
 * worker for several, or with a remote one), and the content queued is the message byte-exact
 * behind one Received field. Unknown users are
 * refused at RCPT with 550 5.1.1; duplicate recipients give one delivery and keep the spool's
 * reference count right.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { agentForTests } from '@mailway/testing/agent';
import { deliveryJobId } from '@mailway/queue/jobs';
import { readHeaderFields } from '@mailway/smtp/message';
import { carriedLimit } from '@mailway/queue/spool';
import { createTraceLog } from '@mailway/queue/trace';
import { Dialog } from '@mailway/testing/dialog';
import { message, queueIdOf, startRelay } from './support/harness.js';

const run = promisify(execFile);
// The trace fields alone: sender authentication (RELAY_DMARC, which adds Authentication-Results) is dmarc.test.ts's.
const relay = agentForTests(() => startRelay({ env: { RELAY_DMARC: 'false' } }));

/** Send `raw` with smtplib (EHLO, no TLS) and return the reply to end of data. */
async function smtplib(port: number, from: string, to: string[], raw: Buffer): Promise<string> {
  const script = [
    'import smtplib, sys, json',
    'args = json.loads(sys.argv[1])',
    'data = sys.stdin.buffer.read()',
    "s = smtplib.SMTP('127.0.0.1', args['port'], local_hostname='sender.remote.example')",
    's.ehlo()',
    "s.mail(args['from'])",
    "for r in args['to']: s.rcpt(r)",
    'code, text = s.data(data)',
    "print(code, text.decode())",
    's.quit()',
  ].join('\n');
  const child = run('python3', ['-c', script, JSON.stringify({ port, from, to })]);
  child.child.stdin?.end(raw);
  return (await child).stdout.trim();
}

describe('a peer MTA delivers to a local user', () => {
  it('queues it as a delivery job carrying the message byte-exact behind Received', async () => {
    const raw = Buffer.from(message({ extraHeaders: 'Message-ID: <peer.1@remote.example>', body: 'Line one.\r\n.leading dot\r\n8-bit: caf\u00e9\r\n' }), 'utf8');
    const response = await smtplib(relay.current.agent.port, 'carol@remote.example', ['bob@local.example'], raw);
    expect(response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]{20}$/);
    const queueId = queueIdOf(response);

    // One delivery job, straight from the intake.
    const [delivery] = await relay.current.waitForJobs('delivery', 1, queueId);
    expect(delivery?.data).toMatchObject({
      queueId,
      spoolId: queueId,
      messageId: '<peer.1@remote.example>',
      from: 'carol@remote.example',
      recipient: { address: 'bob@local.example', notify: null, orcpt: null },
      origin: { agent: 'relay', user: null, tls: null, client: { address: '127.0.0.1', helo: 'sender.remote.example' } },
    });
    expect((await relay.current.jobs('outbound')).length).toBe(0);

    // The content: one Received field, then the message exactly as sent.
    const stored = await relay.current.stored(queueId);
    expect(delivery?.data.size).toBe(stored.length);
    expect(stored.subarray(stored.length - raw.length).equals(raw)).toBe(true);
    const added = readHeaderFields(stored.subarray(0, stored.length - raw.length)).map((f) => f.raw.toString('utf8').replace(/\r\n\t/g, ' '));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^Received: from sender\.remote\.example \(\[127\.0\.0\.1\]\)/);
    expect(added[0]).toContain('by mx.local.example with ESMTP id');
    expect(added[0]).toContain(`id ${queueId}`);
    expect(added[0]).toContain('for <bob@local.example>');
    // Carried in the job: nothing was spooled.
    expect(delivery?.data.content).toBe(stored.toString('latin1'));
    expect(await relay.current.spool.stat(queueId)).toBeNull();

    // One log line for the transaction, and the metrics.
    expect(relay.current.logs.filter((l) => l.msg === 'queued' && l.queueId === queueId)).toHaveLength(1);
    expect(await relay.current.metric(/^mailway_relay_messages_total/)).toBeGreaterThanOrEqual(1);
    expect(await relay.current.metric(/^mailway_relay_routed_recipients_total\{.*route="local"/)).toBeGreaterThanOrEqual(1);
  });

  it('queues a message for one local recipient straight for delivery; several recipients take the transfer job', async () => {
    const { current } = relay;
    const send = async (to: string[]): Promise<string> => queueIdOf(await smtplib(current.agent.port, 'carol@remote.example', to, Buffer.from(message())));
    const transferOf = async (queueId: string) => (await current.jobs('transfer')).filter((j) => j.data.queueId === queueId);

    // One local recipient: its delivery job, no transfer job, the message in the job.
    const one = await send(['bob@local.example']);
    const [delivery] = await current.waitForJobs('delivery', 1, one);
    expect(delivery?.id).toBe(deliveryJobId(one, 'bob@local.example'));
    // Nothing adds its id again, so it is not kept once delivered.
    expect(delivery?.opts.removeOnComplete).toBe(true);
    expect(delivery?.data).toMatchObject({ queueId: one, spoolId: one, from: 'carol@remote.example', recipient: { address: 'bob@local.example' }, hops: 1, mailParams: { body: null, smtputf8: false } });
    expect(await transferOf(one)).toHaveLength(0);
    expect(delivery?.data.content).toMatch(/^Received: /);
    expect(await current.spool.stat(one)).toBeNull();
    const events = (await createTraceLog(current.redis, { prefix: current.prefix, retentionMs: 60_000 }).read(one)).map((e) => e.event);
    expect(events.slice(0, 2)).toMatchObject([{ type: 'accepted', agent: 'relay' }, { type: 'routed', agent: 'relay', recipient: 'bob@local.example', route: 'local' }]);
    expect(current.logs.find((l) => l.msg === 'queued' && l.queueId === one)?.route).toBe('local');

    // Larger than a job carries: spooled, and the entry owned by the job.
    const large = queueIdOf(await smtplib(current.agent.port, 'carol@remote.example', ['bob@local.example'], Buffer.from(message({ body: `${'x'.repeat(998)}\r\n`.repeat(70) }))));
    const [spooled] = await current.waitForJobs('delivery', 1, large);
    expect(spooled?.data.content).toBeUndefined();
    expect(await transferOf(large)).toHaveLength(0);
    await waitFor(async () => (await current.spool.stat(large))?.claimed === true);
    expect(await current.spool.stat(large)).toMatchObject({ refs: 1, expiresAt: null });
    expect(spooled?.data.size).toBeGreaterThan(carriedLimit);

    // Two local recipients: the transfer worker routes them (their jobs go on the queue together).
    const two = await send(['bob@local.example', 'dave@second.example']);
    await current.waitForJobs('transfer', 1, two);
    expect(current.logs.find((l) => l.msg === 'queued' && l.queueId === two)?.route).toBe('transfer');
    expect((await current.waitForJobs('delivery', 2, two)).map((j) => j.data.recipient.address).sort()).toEqual(['bob@local.example', 'dave@second.example']);
  });

  it('accepts an alias and a sub-address, in any case of the domain', async () => {
    const { dialog } = await Dialog.open(relay.current.agent.port);
    await dialog.command('EHLO sender.remote.example');
    expect((await dialog.command('MAIL FROM:<carol@remote.example>')).status).toBe('250 2.1.0');
    expect((await dialog.command('RCPT TO:<team@local.example>')).status).toBe('250 2.1.5');
    expect((await dialog.command('RCPT TO:<bob+lists@LOCAL.EXAMPLE>')).status).toBe('250 2.1.5');
    expect((await dialog.command('RCPT TO:<dave@Second.Example>')).status).toBe('250 2.1.5');
    const reply = await dialog.data(message());
    expect(reply.status).toBe('250 2.0.0');
    await dialog.close();
    const queueId = queueIdOf(reply.text);
    const deliveries = await relay.current.waitForJobs('delivery', 3, queueId);
    expect(deliveries.map((j) => j.data.recipient.address).sort()).toEqual(['bob+lists@LOCAL.EXAMPLE', 'dave@Second.Example', 'team@local.example']);
  });

  it('refuses an unknown local user at RCPT with 550 5.1.1, and takes the other recipients', async () => {
    const { dialog } = await Dialog.open(relay.current.agent.port);
    await dialog.command('EHLO sender.remote.example');
    await dialog.command('MAIL FROM:<carol@remote.example>');
    const unknown = await dialog.command('RCPT TO:<nobody@local.example>');
    expect(unknown.status).toBe('550 5.1.1');
    expect(unknown.text).toBe('<nobody@local.example>: Recipient address rejected: User unknown');
    expect((await dialog.command('RCPT TO:<bob@local.example>')).status).toBe('250 2.1.5');
    expect((await dialog.data(message())).status).toBe('250 2.0.0');
    await dialog.close();
    expect(await relay.current.metric(/^mailway_relay_rejections_total\{.*reason="unknown_user"/)).toBeGreaterThanOrEqual(1);
  });

  it('gives a recipient named twice one delivery job and releases the spare reference', async () => {
    const { dialog } = await Dialog.open(relay.current.agent.port);
    await dialog.command('EHLO sender.remote.example');
    await dialog.command('MAIL FROM:<carol@remote.example>');
    expect((await dialog.command('RCPT TO:<bob@local.example>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<BOB@local.example>')).code).toBe(250);
    const reply = await dialog.data(message());
    await dialog.close();
    const queueId = queueIdOf(reply.text);
    await relay.current.waitForJobs('delivery', 1, queueId);
    await waitFor(async () => (await relay.current.spool.stat(queueId))?.refs === 1);
    expect((await relay.current.jobs('delivery')).filter((j) => j.data.queueId === queueId)).toHaveLength(1);
  });

  it('offers STARTTLS, and records ESMTPS with the cipher after it', async () => {
    const { dialog } = await Dialog.open(relay.current.agent.port);
    const ehlo = await dialog.command('EHLO sender.remote.example');
    expect(ehlo.text).toContain('STARTTLS');
    expect(ehlo.text).not.toContain('AUTH');
    const secure = await dialog.startTls();
    expect(secure.text).toContain('AUTH PLAIN LOGIN');
    await dialog.command('MAIL FROM:<carol@remote.example>');
    await dialog.command('RCPT TO:<bob@local.example>');
    const reply = await dialog.data(message());
    await dialog.close();
    const stored = (await relay.current.stored(queueIdOf(reply.text))).toString('latin1').replace(/\r\n\t/g, ' ');
    expect(stored).toMatch(/^Received: from client\.example \(\[127\.0\.0\.1\]\) \(using TLSv1\.3 with cipher [A-Z0-9_]+\) by mx\.local\.example with ESMTPS id /);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
