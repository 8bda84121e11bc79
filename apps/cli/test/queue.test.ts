/**
 * `mailway queue list|show|summary|retry` against a real Redis holding jobs queued the way the
 * agents queue them: through createMailQueue, and for outbound mail a worker that records each
 * recipient's attempt in the job and moves it to the delayed set until its next attempt, as the
 * relay's outbound worker does. Checks the human output and the `--json` objects.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, UnrecoverableError, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MessageDetail, QueueSummary, QueuedMessage, RetryResult } from '@mailway/queue/admin';
import { type AttemptRecord, type OutboundJob, type OutboundProgress, type TransferJob, newQueueId, outboundJobId } from '@mailway/queue/jobs';
import { bullPrefix, createMailWorker } from '@mailway/queue/queues';
import { createRedisSpool } from '@mailway/queue/spool';

import { mailwayWith } from './support/cli.js';
import { outboundJob, rcpt } from './support/jobs.js';
import { closeQueues, openQueues, type QueueTestHandles, until } from './support/queues.js';

// Each test runs several `mailway` commands, each a process started from the sources: on a
// busy machine one takes seconds.
vi.setConfig({ testTimeout: 120_000 });
const prefix = `mailway-test:${randomUUID()}:`;
const env = { ...process.env, REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL!, MAILWAY_REDIS_PREFIX: prefix };

/** Run `mailway …` from its sources; resolves with stdout, stderr and the exit code. */
const mailway = mailwayWith(env);

const minute = 60_000;

function transferJob(queueId: string, from: string, to: string[], arrivedMinutesAgo: number): TransferJob {
  return {
    queueId,
    spoolId: queueId,
    size: 1234,
    messageId: `<${queueId}@example.org>`,
    envelope: { from, recipients: to.map((address) => rcpt(address)), body: '8BITMIME', smtputf8: false, ret: null, envid: null, requireTls: false },
    origin: { agent: 'submission', client: { address: '192.0.2.7', port: 50123, helo: 'laptop' }, user: 'alice', tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' }, receivedAt: new Date(Date.now() - arrivedMinutesAgo * minute).toISOString() },
  };
}

function attempt(address: string, state: AttemptRecord['state'], status: string, diagnostic: string, remoteMta: string | null, tls: string | null): AttemptRecord {
  return { address, at: new Date().toISOString(), state, status, diagnostic, remoteMta, remoteReply: remoteMta !== null, tls };
}

let command: Redis;
let workerConnection: Redis;
let queues: QueueTestHandles['queues'];

// Message a: alice → bob and carol at example.net (bob greylisted, carol delivered) and dave at
// example.com (not tried yet). Message b: a bounce (null sender) to example.net, whose host
// refused the connection. Message c: on `transfer`, not routed yet. Message d: a delivery that failed.
const a = newQueueId();
const b = newQueueId();
const c = newQueueId();
const d = newQueueId();
const ta = transferJob(a, 'alice@example.org', ['bob@example.net', 'carol@example.net', 'dave@example.com'], 12);
const tb = transferJob(b, '', ['x@example.net'], 100);
const tc = transferJob(c, 'carol@example.org', ['erin@example.org'], 1);
const td = transferJob(d, 'frank@example.org', ['gina@example.org'], 3);
const contentA = ['From: alice@example.org', 'To: bob@example.net, carol@example.net, dave@example.com', 'Subject: Quarterly figures', `Message-ID: <${a}@example.org>`, '', 'The figures are attached.', ''].join('\r\n');
const retryAtA = Date.now() + 10 * minute;
const retryAtB = Date.now() + 20 * minute;
const attempts: Record<string, { records: AttemptRecord[]; retryAt: number }> = {
  [a]: {
    records: [attempt('bob@example.net', 'deferred', '4.7.1', '451 4.7.1 Greylisted, try again later', 'mx1.example.net', 'TLSv1.3'), attempt('carol@example.net', 'delivered', '2.0.0', '250 2.0.0 Ok: queued as 4F2', 'mx1.example.net', 'TLSv1.3')],
    retryAt: retryAtA,
  },
  [b]: { records: [attempt('x@example.net', 'deferred', '4.4.1', 'connect to mx1.example.net[127.0.0.5]:25: connection refused', null, null)], retryAt: retryAtB },
};

beforeAll(async () => {
  ({ command, workerConnection, queues } = await openQueues(prefix));
  const bull = bullPrefix(prefix);

  // One attempt each, recorded and rescheduled as the outbound worker does.
  const outbound = createMailWorker(
    'outbound',
    workerConnection,
    async (data, job, token) => {
      const { records, retryAt } = attempts[data.queueId]!;
      const pending = data.envelope.recipients.filter((r) => records.some((o) => o.address === r.address && o.state === 'deferred'));
      const progress: OutboundProgress = { attempts: 1, pending, warned: false, last: records, settling: null };
      await job.updateData({ ...data, progress });
      await job.moveToDelayed(retryAt, token);
      throw new DelayedError();
    },
    { prefix: bull },
  );
  // A delivery that cannot succeed, as the delivery agent fails one for good.
  const delivery = createMailWorker(
    'delivery',
    workerConnection,
    async () => {
      throw new UnrecoverableError('5.2.2 mailbox full');
    },
    { prefix: bull },
  );
  // a was routed (its transfer job completed, kept a day); b, a bounce, has none left.
  const transfer = createMailWorker('transfer', workerConnection, async () => {}, { prefix: bull });
  await queues.transfer.add(ta);
  await queues.outbound.add(outboundJob(ta, 'example.net'));
  await queues.outbound.add(outboundJob(tb, 'example.net'));
  await queues.delivery.add({ queueId: d, spoolId: d, size: td.size, messageId: td.messageId, from: td.envelope.from, recipient: rcpt('gina@example.org'), origin: td.origin });
  await until(async () => (await queues.outbound.queue.getDelayedCount()) === 2 && (await queues.delivery.queue.getFailedCount()) === 1 && (await queues.transfer.queue.getCompletedCount()) === 1);
  await closeWorkers(transfer, outbound, delivery);

  // a's content, as the intake spooled it.
  await createRedisSpool(command, { prefix }).write(a, Buffer.from(contentA), { refs: 3 });

  // Queued, with no worker running: a's other domain, and c not routed yet.
  await queues.outbound.add(outboundJob(ta, 'example.com'));
  await queues.transfer.add(tc);
}, 60_000);

afterAll(() => closeQueues({ queues, command, workerConnection, prefix }));

async function closeWorkers(...workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.close()));
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('mailway queue list', () => {
  it('lists every unfinished recipient by message, oldest first, with its state and why', async () => {
    const { stdout, code } = await mailway('queue', 'list');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^QUEUE ID\s+AGE\s+SIZE\s+SENDER$/);
    // b arrived 100 minutes ago, a 12, d 3, c 1.
    expect(lines.filter((l) => /^[0-7]/.test(l)).map((l) => l.split(/\s+/)[0])).toEqual([b, a, d, c]);
    expect(lines).toContain(`    x@example.net  deferred until ${iso(retryAtB)} (outbound): no host: connect to mx1.example.net[127.0.0.5]:25: connection refused`);
    expect(lines).toContain(`    bob@example.net  deferred until ${iso(retryAtA)} (outbound): mx1.example.net: 451 4.7.1 Greylisted, try again later`);
    expect(lines).toContain('    dave@example.com  queued (outbound)');
    expect(lines).toContain('    erin@example.org  queued (transfer)');
    expect(lines).toContain('    gina@example.org  failed (delivery): 5.2.2 mailbox full');
    // carol was delivered: not queued any more.
    expect(stdout).not.toContain('carol@example.net');
    expect(lines.find((l) => l.startsWith(b))).toMatch(/^\S+\s+1h40m\s+1234\s+<>$/);
    expect(lines.find((l) => l.startsWith(a))).toMatch(/^\S+\s+12m\s+1234\s+alice@example\.org$/);
    expect(lines.at(-1)).toBe('-- 4 messages, 5 recipients');
  });

  it('--json gives the messages with each recipient, its job and its latest attempt', async () => {
    const { stdout, code } = await mailway('queue', 'list', '--json');
    expect(code).toBe(0);
    const messages = JSON.parse(stdout) as QueuedMessage[];
    expect(messages.map((m) => m.queueId)).toEqual([b, a, d, c]);
    const ma = messages[1]!;
    expect(ma).toMatchObject({ sender: 'alice@example.org', size: 1234, arrivedAt: ta.origin.receivedAt });
    expect(ma.recipients).toEqual([
      { address: 'bob@example.net', state: 'deferred', queue: 'outbound', jobId: outboundJobId(a, a, 'example.net'), nextAttemptAt: iso(retryAtA), lastAttempt: attempts[a]!.records[0], error: null },
      { address: 'dave@example.com', state: 'queued', queue: 'outbound', jobId: outboundJobId(a, a, 'example.com'), nextAttemptAt: null, lastAttempt: null, error: null },
    ]);
    expect(messages[2]!.recipients[0]).toMatchObject({ address: 'gina@example.org', state: 'failed', queue: 'delivery', error: '5.2.2 mailbox full' });
  });

  it('filters by state, recipient domain and sender', async () => {
    const ids = async (...args: string[]) => (JSON.parse((await mailway('queue', 'list', '--json', ...args)).stdout) as QueuedMessage[]).map((m) => [m.queueId, m.recipients.map((r) => r.address)]);
    expect(await ids('--state', 'deferred')).toEqual([
      [b, ['x@example.net']],
      [a, ['bob@example.net']],
    ]);
    expect(await ids('--state', 'queued')).toEqual([
      [a, ['dave@example.com']],
      [c, ['erin@example.org']],
    ]);
    expect(await ids('--domain', 'EXAMPLE.COM')).toEqual([[a, ['dave@example.com']]]);
    expect(await ids('--sender', '<>')).toEqual([[b, ['x@example.net']]]);
    expect(await ids('--sender', 'frank@example.org', '--state', 'failed')).toEqual([[d, ['gina@example.org']]]);
    expect(await ids('--state', 'active')).toEqual([]);
    expect(await ids('--recipient', '<BOB@example.net>')).toEqual([[a, ['bob@example.net']]]);
    // Arrived 100, 12, 3 and 1 minutes ago.
    expect(await ids('--older-than', '50m')).toEqual([[b, ['x@example.net']]]);
    expect((await ids('--younger-than', '5m')).map(([id]) => id)).toEqual([d, c]);
    expect((await ids('--older-than', '2m', '--younger-than', '1h')).map(([id]) => id)).toEqual([a, d]);
    const badAge = await mailway('queue', 'list', '--older-than', 'yesterday');
    expect(badAge.code).toBe(64);
    expect(badAge.stderr).toContain('--older-than must be a duration');
    const empty = await mailway('queue', 'list', '--state', 'active');
    expect(empty.stdout).toBe('Mail queue is empty\n');
    const bad = await mailway('queue', 'list', '--state', 'stuck');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--state must be one of queued, active, deferred, held, failed');
  });
});

describe('mailway queue show', () => {
  it('shows the envelope, the jobs in each queue and every outbound recipient’s last attempt', async () => {
    const { stdout, code } = await mailway('queue', 'show', a);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toContain(`queue id:    ${a}`);
    expect(lines).toContain('sender:      alice@example.org');
    expect(lines).toContain('recipients:  bob@example.net, carol@example.net, dave@example.com');
    expect(lines).toContain('parameters:  BODY=8BITMIME');
    expect(lines).toContain(`  transfer  ${a}  completed`);
    expect(lines).toContain('origin:      submission from [192.0.2.7] (laptop), user alice, TLSv1.3');
    expect(lines).toContain(`  outbound  ${outboundJobId(a, a, 'example.net')}  deferred until ${iso(retryAtA)}  domain example.net  attempts 1`);
    expect(lines).toContain('      pending: bob@example.net');
    expect(lines.find((l) => l.includes('bob@example.net  deferred'))).toMatch(/^ {6}bob@example\.net {2}deferred 4\.7\.1 at \S+ via mx1\.example\.net, TLSv1\.3: remote said 451 4\.7\.1 Greylisted, try again later$/);
    expect(lines.find((l) => l.includes('carol@example.net  delivered'))).toMatch(/via mx1\.example\.net, TLSv1\.3: remote said 250 2\.0\.0 Ok: queued as 4F2$/);
    expect(lines).toContain(`  outbound  ${outboundJobId(a, a, 'example.com')}  queued  domain example.com`);
  });

  it('--json gives the envelope and each job with its progress; a bounce shows Mailway’s own account', async () => {
    const detail = JSON.parse((await mailway('queue', 'show', a, '--json')).stdout) as MessageDetail;
    expect(detail.envelope).toEqual(ta.envelope);
    expect(detail.jobs.map((j) => [j.queue, j.domain, j.state])).toEqual([
      ['transfer', null, null],
      ['outbound', 'example.net', 'deferred'],
      ['outbound', 'example.com', 'queued'],
    ]);
    expect(detail.jobs[0]!.bullState).toBe('completed');
    expect(detail.jobs[1]!.progress?.last).toEqual(attempts[a]!.records);
    expect(detail.recipients.map((r) => [r.address, r.state])).toEqual([
      ['bob@example.net', 'deferred'],
      ['dave@example.com', 'queued'],
    ]);

    const bounce = await mailway('queue', 'show', b);
    // Its envelope comes from the outbound job (no transfer job is left).
    expect(bounce.stdout).toContain('sender:      <>');
    expect(bounce.stdout).toContain('recipients:  x@example.net');
    expect(bounce.stdout).toMatch(/x@example\.net {2}deferred 4\.4\.1 at \S+ via \(no host\), no TLS: Mailway says connect to mx1/);
  });

  it('prints the spooled header, and with --body the whole message; a message whose content is gone says so', async () => {
    const header = await mailway('queue', 'show', a);
    expect(header.stdout).toContain('header:\nFrom: alice@example.org\nTo: bob@example.net, carol@example.net, dave@example.com\nSubject: Quarterly figures\n');
    expect(header.stdout).not.toContain('The figures are attached.');
    const body = await mailway('queue', 'show', a, '--body');
    expect(body.stdout).toContain('message:\nFrom: alice@example.org\n');
    expect(body.stdout).toContain('\n\nThe figures are attached.\n');
    const json = JSON.parse((await mailway('queue', 'show', a, '--body', '--json')).stdout) as { message: string };
    expect(json.message).toBe(contentA);
    expect((await mailway('queue', 'show', b)).stdout).toContain('(content no longer spooled)');
  });

  it('a message nobody queued is an error', async () => {
    const { code, stderr } = await mailway('queue', 'show', newQueueId());
    expect(code).toBe(1);
    expect(stderr).toContain('is queued or kept');
  });
});

describe('mailway queue summary', () => {
  it('counts recipients by state and shapes deferred outbound mail by domain and age', async () => {
    const { stdout, code } = await mailway('queue', 'summary');
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines.slice(0, 6)).toEqual(['messages  4', 'queued    2', 'active    0', 'deferred  2', 'held      0', 'failed    1']);
    expect(lines).toContain('deferred outbound messages by domain and age:');
    expect(lines.find((l) => l.startsWith('DOMAIN'))?.split(/\s+/)).toEqual(['DOMAIN', 'TOTAL', '0-5m', '5-10m', '10-20m', '20-40m', '40-80m', '80-160m', '160-320m', '320m+']);
    // a is 12 minutes old (10-20m), b 100 (80-160m).
    expect(lines.find((l) => l.startsWith('example.net'))?.split(/\s+/)).toEqual(['example.net', '2', '0', '0', '1', '0', '0', '1', '0', '0']);
    expect(lines.find((l) => l.startsWith('TOTAL'))?.split(/\s+/)).toEqual(['TOTAL', '2', '0', '0', '1', '0', '0', '1', '0', '0']);

    const summary = JSON.parse((await mailway('queue', 'summary', '--json')).stdout) as QueueSummary;
    expect(summary).toEqual({
      messages: 4,
      recipients: { queued: 2, active: 0, deferred: 2, held: 0, failed: 1 },
      deferredByDomain: [{ domain: 'example.net', total: 2, buckets: { '0-5m': 0, '5-10m': 0, '10-20m': 1, '20-40m': 0, '40-80m': 0, '80-160m': 1, '160-320m': 0, '320m+': 0 } }],
    });
  });
});

describe('mailway queue retry', () => {
  it('runs one message’s deferred outbound job now, then every deferred one to a domain', async () => {
    const one = await mailway('queue', 'retry', a);
    expect(one.code).toBe(0);
    expect(one.stdout).toBe(`${a}  example.net  runs now (job ${outboundJobId(a, a, 'example.net')})\n`);
    const job: Job | undefined = await queues.outbound.queue.getJob(outboundJobId(a, a, 'example.net'));
    expect(await job?.getState()).toBe('waiting');
    // Its record stays: the next run picks up where the last attempt left it.
    expect((job?.data as OutboundJob).progress?.pending.map((r) => r.address)).toEqual(['bob@example.net']);

    const again = await mailway('queue', 'retry', a);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no deferred outbound job matched');

    expect((await mailway('queue', 'retry', '--all', '--domain', 'example.org')).code).toBe(1);
    const all = JSON.parse((await mailway('queue', 'retry', '--all', '--domain', 'example.net', '--json')).stdout) as RetryResult;
    expect(all.promoted).toEqual([{ queueId: b, jobId: outboundJobId(b, b, 'example.net'), domain: 'example.net' }]);
    expect(await queues.outbound.queue.getDelayedCount()).toBe(0);

    const list = JSON.parse((await mailway('queue', 'list', '--json', '--domain', 'example.net')).stdout) as QueuedMessage[];
    expect(list.flatMap((m) => m.recipients.map((r) => [r.address, r.state]))).toEqual([
      ['x@example.net', 'queued'],
      ['bob@example.net', 'queued'],
    ]);
    expect((await mailway('queue', 'retry')).code).toBe(64);
  });
});
