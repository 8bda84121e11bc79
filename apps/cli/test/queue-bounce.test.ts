/**
 * `mailway queue bounce` against a real Redis holding jobs and spool entries made the way the
 * agents make them: the message goes back to its sender now in one failure notice (read by
 * Python's email package) naming the recipients still queued, with their last attempt; its jobs
 * and content go, and nothing of it is left in Redis. A message from the null sender and a
 * recipient with NOTIFY=NEVER are deleted without a notice; --all needs --yes.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EnvelopeRecipient, type TransferJob, newQueueId, outboundJobId, transferJobId } from '@mailway/queue/jobs';
import { bullPrefix, createMailWorker } from '@mailway/queue/queues';
import { type Spool, createRedisSpool } from '@mailway/queue/spool';
import { createTraceLog, traceKey } from '@mailway/queue/trace';
import { parseDsn } from '@mailway/testing/dsn-parse';
import { waitFor } from '@mailway/testing/wait';
import { mailwayWith } from './support/cli.js';
import { outboundJob, rcpt } from './support/jobs.js';
import { closeQueues, openQueues, type QueueTestHandles } from './support/queues.js';

// Each test runs several `mailway` commands, each a process started from the sources: on a
// busy machine one takes seconds.
vi.setConfig({ testTimeout: 120_000 });

const prefix = `mailway-test:${randomUUID()}:`;
const mailway = mailwayWith({ ...process.env, REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL!, MAILWAY_REDIS_PREFIX: prefix, MAILWAY_SPOOL: 'redis', MAILWAY_HOSTNAME: 'mx.example.org' });

const lifetime = 5 * 24 * 60 * 60_000;
const content = 'From: alice@example.org\r\nSubject: to be returned\r\nMessage-ID: <bounce.1@example.org>\r\n\r\nHello.\r\n';

function transferJob(queueId: string, from: string, to: EnvelopeRecipient[]): TransferJob {
  return {
    queueId,
    spoolId: queueId,
    size: content.length,
    messageId: '<bounce.1@example.org>',
    envelope: { from, recipients: to, body: null, smtputf8: false, ret: null, envid: 'env-42', requireTls: false },
    origin: { agent: 'submission', client: null, user: 'alice', tls: null, receivedAt: new Date().toISOString() },
  };
}

let command: Redis;
let workerConnection: Redis;
let spool: Spool;
let queues: QueueTestHandles['queues'];

// m: alice → bob and carol at example.net (carol delivered, bob deferred with a 451), dave at
// example.com (queued, NOTIFY=NEVER) and eve at example.com. z: a notice (from <>), deferred.
const m = newQueueId();
const z = newQueueId();
const tm = transferJob(m, 'alice@example.org', [rcpt('bob@example.net'), rcpt('carol@example.net'), rcpt('dave@example.com', 'NEVER'), rcpt('eve@example.com')]);
const tz = transferJob(z, '', [rcpt('joe@example.net')]);

async function routed(t: TransferJob, domains: string[]): Promise<void> {
  await spool.write(t.spoolId, Buffer.from(content), { refs: t.envelope.recipients.length });
  await spool.claim(t.spoolId);
  for (const domain of domains) {
    const job = outboundJob(t, domain);
    await queues.outbound.add(job);
    await spool.park(t.spoolId, outboundJobId(t.queueId, t.queueId, domain), new Date(Date.now() + lifetime), job.envelope.recipients.length);
  }
}

beforeAll(async () => {
  ({ command, workerConnection, queues } = await openQueues(prefix));
  const bull = bullPrefix(prefix);
  spool = createRedisSpool(command, { prefix });

  // m's example.net job and z's ran once: carol delivered, the rest deferred with the peer's 451.
  const transfer = createMailWorker('transfer', workerConnection, async () => {}, { prefix: bull });
  await queues.transfer.add(tm);
  await routed(tm, ['example.net']);
  await routed(tz, ['example.net']);
  const at = new Date().toISOString();
  const outbound = createMailWorker(
    'outbound',
    workerConnection,
    async (data, job, token) => {
      for (const r of data.envelope.recipients.filter((r) => r.address.startsWith('carol@'))) await spool.releaseOnce(data.spoolId, `${job.id}|${r.address}`);
      const pending = data.envelope.recipients.filter((r) => !r.address.startsWith('carol@'));
      const last = pending.map((r) => ({ address: r.address, at, state: 'deferred' as const, status: '4.2.2', diagnostic: '451 4.2.2 Mailbox full, try later', remoteMta: 'mx1.example.net', remoteReply: true, tls: 'TLSv1.3' }));
      await job.updateData({ ...data, progress: { attempts: 1, pending, warned: false, last, settling: null } });
      await job.moveToDelayed(Date.now() + 10 * 60_000, token);
      throw new DelayedError();
    },
    { prefix: bull },
  );
  await waitFor('the jobs to be deferred', async () => (await queues.outbound.queue.getDelayedCount()) === 2 && (await queues.transfer.queue.getCompletedCount()) === 1, { timeoutMs: 20_000 });
  await Promise.all([transfer.close(), outbound.close()]);
  await queues.outbound.add(outboundJob(tm, 'example.com'));
  await spool.park(m, outboundJobId(m, m, 'example.com'), new Date(Date.now() + lifetime), 2);
}, 60_000);

afterAll(() => closeQueues({ queues, command, workerConnection, prefix }));

/** Every key that names the message's queue id, but its trace, which must expire by itself. */
async function keysOf(queueId: string): Promise<string[]> {
  const keys = (await command.keys(`${prefix}*${queueId}*`)).filter((key) => key !== traceKey(prefix, queueId));
  const ttl = await command.pttl(traceKey(prefix, queueId));
  return ttl > 0 ? keys : [...keys, `${traceKey(prefix, queueId)} (pttl ${ttl})`];
}

describe('mailway queue bounce', () => {
  it('returns the message to its sender in one failure notice for the recipients still queued, and deletes it with its content', async () => {
    expect((await spool.stat(m))?.refs).toBe(3);
    const { stdout, code } = await mailway('queue', 'bounce', m, '--json');
    expect(code).toBe(0);
    const [result] = JSON.parse(stdout) as { queueId: string; notice: string; returned: string[]; dropped: string[]; done: unknown[] }[];
    expect(result).toMatchObject({ queueId: m, returned: ['bob@example.net', 'eve@example.com'], dropped: ['dave@example.com'] });
    expect(result!.done).toHaveLength(3);

    // The notice: a new message from <> to alice, on transfer, its own content spooled.
    const notice = (await queues.transfer.queue.getJob(transferJobId(result!.notice)))!;
    expect(notice.data as TransferJob).toMatchObject({ envelope: { from: '', recipients: [{ address: 'alice@example.org' }] } });
    const dsn = await parseDsn(await spool.readAll(result!.notice));
    expect(dsn.reportType).toBe('delivery-status');
    expect(dsn.perMessage).toMatchObject({ 'Reporting-MTA': 'dns; mx.example.org', 'Original-Envelope-Id': 'env-42' });
    expect(dsn.perRecipient.map((r) => [r['Final-Recipient'], r.Action, r.Status])).toEqual([
      ['rfc822; bob@example.net', 'failed', '5.0.0'],
      ['rfc822; eve@example.com', 'failed', '5.0.0'],
    ]);
    expect(dsn.perRecipient[0]!['Diagnostic-Code']).toContain('last attempt: mx1.example.net: 451 4.2.2 Mailbox full');
    expect(dsn.returned).toContain('Subject: to be returned');

    // The original is gone: its jobs (the completed transfer job too) and its content.
    expect(await spool.stat(m)).toBeNull();
    expect(await keysOf(m)).toEqual([]);
    expect(await queues.outbound.queue.getJob(outboundJobId(m, m, 'example.net'))).toBeUndefined();
    expect((await mailway('queue', 'show', m)).code).toBe(1);

    // Its trace says what became of it: deleted, returned, and the notice that went.
    const trace = (await createTraceLog(command, { prefix, retentionMs: 1 }).read(m)).map((e) => e.event);
    expect(trace.map((e) => [e.type, e.action ?? e.notice])).toEqual([
      ['operator', 'delete'],
      ['operator', 'bounce'],
      ['notice', result!.notice],
    ]);
    expect(trace[1]!.recipients).toEqual(['bob@example.net', 'dave@example.com', 'eve@example.com']);

    // Bounced again: nothing left to bounce, no second notice.
    const again = await mailway('queue', 'bounce', m);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe(`${m}  no unfinished job of this message\n`);
    expect(await queues.transfer.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('--all needs --yes; a message from the null sender is deleted without a notice', async () => {
    const refused = await mailway('queue', 'bounce', '--all');
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain('add --yes to confirm');
    expect(await spool.stat(z)).not.toBeNull();

    const { stdout, code } = await mailway('queue', 'bounce', '--all', '--domain', 'example.net', '--yes');
    expect(code).toBe(0);
    // The notice of the first test waits on transfer for a relay, to example.org: not matched by the domain.
    expect(stdout).toBe(`${z}  deleted without notice (null sender or NOTIFY): joe@example.net\n`);
    expect(await spool.stat(z)).toBeNull();
    expect(await keysOf(z)).toEqual([]);
    expect(await queues.transfer.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });

  it('a message its delivery job carries: shown and returned from the job, gone with it', async () => {
    // As the intake queues a small message for one local recipient: no spool entry, the content in the job.
    const c = newQueueId();
    const carried = content.replace('to be returned', 'carried back');
    const origin = { agent: 'relay' as const, client: null, user: null, tls: null, receivedAt: new Date().toISOString() };
    await queues.delivery.add({ queueId: c, spoolId: c, size: carried.length, messageId: '<bounce.1@example.org>', from: 'alice@example.org', recipient: rcpt('erin@example.org'), origin, content: carried });

    const shown = await mailway('queue', 'show', c);
    expect(shown.stdout).toContain('Subject: carried back');
    expect(shown.stdout).not.toContain('no longer spooled');
    const json = JSON.parse((await mailway('queue', 'show', c, '--body', '--json')).stdout) as Record<string, unknown>;
    expect(json.message).toBe(carried);
    expect(json).not.toHaveProperty('carried');

    const { stdout } = await mailway('queue', 'bounce', c, '--json');
    const [result] = JSON.parse(stdout) as { notice: string; returned: string[] }[];
    expect(result?.returned).toEqual(['erin@example.org']);
    const dsn = await parseDsn(await spool.readAll(result!.notice));
    expect(dsn.perRecipient.map((r) => [r['Final-Recipient'], r.Status])).toEqual([['rfc822; erin@example.org', '5.0.0']]);
    expect(dsn.returned).toContain('Subject: carried back');
    expect(await keysOf(c)).toEqual([]);
  });
});
