/**
 * `mailway queue hold|release|delete|flush` against a real Redis holding jobs and spool entries
 * made the way the agents make them: content written with one reference per recipient, an
 * outbound job's references parked under its id and released per recipient once delivered, a
 * delivery job holding its own. Checks what each command confirms, the jobs' states after it,
 * and that a delete leaves no key of the message behind.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { QueuedMessage } from '@mailway/queue/admin';
import { type OutboundJob, type TransferJob, deliveryJobId, newQueueId, outboundJobId, transferJobId } from '@mailway/queue/jobs';
import { bullPrefix, createMailWorker } from '@mailway/queue/queues';
import { type Spool, createRedisSpool } from '@mailway/queue/spool';
import { traceKey } from '@mailway/queue/trace';

import { mailwayWith } from './support/cli.js';
import { outboundJob, rcpt } from './support/jobs.js';
import { closeQueues, openQueues, type QueueTestHandles, until } from './support/queues.js';

// Each test runs several `mailway` commands, each a process started from the sources: on a
// busy machine one takes seconds.
vi.setConfig({ testTimeout: 120_000 });
const prefix = `mailway-test:${randomUUID()}:`;
const env = { ...process.env, REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL!, MAILWAY_REDIS_PREFIX: prefix, MAILWAY_SPOOL: 'redis' };

/** Run `mailway …` from its sources; resolves with stdout, stderr and the exit code. */
const mailway = mailwayWith(env);

const minute = 60_000;
const lifetime = 5 * 24 * 60 * minute;

function transferJob(queueId: string, to: string[]): TransferJob {
  return {
    queueId,
    spoolId: queueId,
    size: 5,
    messageId: `<${queueId}@example.org>`,
    envelope: { from: 'alice@example.org', recipients: to.map((address) => rcpt(address)), body: null, smtputf8: false, ret: null, envid: null, requireTls: false },
    origin: { agent: 'submission', client: null, user: 'alice', tls: null, receivedAt: new Date().toISOString() },
  };
}

let command: Redis;
let workerConnection: Redis;
let spool: Spool;
let queues: QueueTestHandles['queues'];

/** Spool the message and queue its jobs as the transfer worker leaves them: outbound references parked per job. */
async function routed(t: TransferJob, local: string[], remote: string[]): Promise<void> {
  await spool.write(t.spoolId, Buffer.from('Hi.\r\n'), { refs: t.envelope.recipients.length });
  await spool.claim(t.spoolId);
  for (const address of local) await queues.delivery.add({ queueId: t.queueId, spoolId: t.spoolId, size: t.size, messageId: t.messageId, from: t.envelope.from, recipient: rcpt(address), origin: t.origin });
  for (const domain of remote) {
    const job = outboundJob(t, domain);
    await queues.outbound.add(job);
    await spool.park(t.spoolId, outboundJobId(t.queueId, t.queueId, domain), new Date(Date.now() + lifetime), job.envelope.recipients.length);
  }
}

// m: alice → bob and carol at example.net (carol delivered, bob deferred), dave at example.com
// (queued), and erin here (waiting for delivery). h: two outbound jobs, one deferred, one queued.
// n: a message not routed yet, its transfer job waiting. x: a deferred message to example.net.
const m = newQueueId();
const h = newQueueId();
const n = newQueueId();
const x = newQueueId();
const tm = transferJob(m, ['bob@example.net', 'carol@example.net', 'dave@example.com', 'erin@example.org']);
const th = transferJob(h, ['fay@example.net', 'gus@example.com']);
const tn = transferJob(n, ['hal@example.org', 'ida@example.net']);
const tx = transferJob(x, ['joe@example.net']);
const retryAt = Date.now() + 10 * minute;

beforeAll(async () => {
  ({ command, workerConnection, queues } = await openQueues(prefix));
  const bull = bullPrefix(prefix);
  spool = createRedisSpool(command, { prefix });

  // m's transfer job ran (completed, kept); its example.net job delivered carol and deferred bob.
  const transfer = createMailWorker('transfer', workerConnection, async () => {}, { prefix: bull });
  await queues.transfer.add(tm);
  await routed(tm, [], ['example.net']);
  await routed(th, [], ['example.net']);
  await routed(tx, [], ['example.net']);
  const outbound = createMailWorker(
    'outbound',
    workerConnection,
    async (data, job, token) => {
      const delivered = data.envelope.recipients.filter((r) => r.address.startsWith('carol@'));
      for (const r of delivered) await spool.releaseOnce(data.spoolId, `${job.id}|${r.address}`);
      await job.updateData({ ...data, progress: { attempts: 1, pending: data.envelope.recipients.filter((r) => !delivered.includes(r)), warned: false, last: [], settling: null } });
      await job.moveToDelayed(retryAt, token);
      throw new DelayedError();
    },
    { prefix: bull },
  );
  await until(async () => (await queues.outbound.queue.getDelayedCount()) === 3 && (await queues.transfer.queue.getCompletedCount()) === 1);
  await Promise.all([transfer.close(), outbound.close()]);

  // With no worker running: m's other jobs, h's second domain, and n unrouted.
  await queues.outbound.add(outboundJob(tm, 'example.com'));
  await spool.park(m, outboundJobId(m, m, 'example.com'), new Date(Date.now() + lifetime), 1);
  await queues.delivery.add({ queueId: m, spoolId: m, size: tm.size, messageId: tm.messageId, from: tm.envelope.from, recipient: rcpt('erin@example.org'), origin: tm.origin });
  await queues.outbound.add(outboundJob(th, 'example.com'));
  await spool.park(h, outboundJobId(h, h, 'example.com'), new Date(Date.now() + lifetime), 1);
  await spool.write(n, Buffer.from('Hi.\r\n'), { refs: 2 });
  await queues.transfer.add(tn);
}, 60_000);

afterAll(() => closeQueues({ queues, command, workerConnection, prefix }));

const states = async (queueId: string) => (JSON.parse((await mailway('queue', 'list', '--json')).stdout) as QueuedMessage[]).find((q) => q.queueId === queueId)?.recipients.map((r) => [r.address, r.state]);

/**
 * Every key of the message, and every queue set or list that still names one of its jobs. Its
 * trace is not one: it stays, with the delete in it, until its retention has passed.
 */
async function leftOf(queueId: string): Promise<string[]> {
  const left = (await command.keys(`${prefix}*${queueId}*`)).filter((key) => key !== traceKey(prefix, queueId));
  if ((await command.exists(traceKey(prefix, queueId))) === 1 && (await command.pttl(traceKey(prefix, queueId))) < 0) left.push(`${traceKey(prefix, queueId)} without an expiry`);
  for (const name of ['transfer', 'outbound', 'delivery'] as const) {
    const base = `${bullPrefix(prefix)}:${name}`;
    for (const key of ['wait', 'active', 'paused', 'prioritized']) for (const id of await command.lrange(`${base}:${key}`, 0, -1)) if (id.includes(queueId)) left.push(`${base}:${key} ${id}`);
    for (const key of ['delayed', 'completed', 'failed', 'prioritized']) {
      const type = await command.type(`${base}:${key}`);
      if (type === 'zset') for (const id of await command.zrange(`${base}:${key}`, 0, -1)) if (id.includes(queueId)) left.push(`${base}:${key} ${id}`);
    }
  }
  return left;
}

describe('mailway queue hold, flush and release', () => {
  it('holds a message’s deferred and queued outbound jobs, lists them held, keeps them from a flush, and runs them once released', async () => {
    const held = await mailway('queue', 'hold', h);
    expect(held.code).toBe(0);
    expect(held.stdout).toBe(`${h}  held (outbound example.net, outbound example.com)\n`);
    expect(await states(h)).toEqual([
      ['fay@example.net', 'held'],
      ['gus@example.com', 'held'],
    ]);
    // The deferred job now waits about a year, not ten minutes; the queued one carries the mark its worker obeys.
    const deferred = (await queues.outbound.queue.getJob(outboundJobId(h, h, 'example.net')))!;
    const score = Number(await command.zscore(queues.outbound.queue.keys.delayed!, deferred.id!)) / 0x1000;
    expect(score).toBeGreaterThan(Date.now() + 300 * 24 * 60 * minute);
    expect((deferred.data as OutboundJob).held).toBe(true);
    expect(((await queues.outbound.queue.getJob(outboundJobId(h, h, 'example.com')))!.data as OutboundJob).held).toBe(true);

    // A flush runs every other deferred job now, and leaves held mail alone.
    const flush = await mailway('queue', 'flush');
    expect(flush.code).toBe(0);
    expect(flush.stdout.split('\n').sort()).toEqual(['', `${m}  example.net  runs now (job ${outboundJobId(m, m, 'example.net')})`, `${x}  example.net  runs now (job ${outboundJobId(x, x, 'example.net')})`].sort());
    expect(await deferred.getState()).toBe('delayed');
    expect(await queues.outbound.queue.getDelayedCount()).toBe(1);
    expect((await mailway('queue', 'list', '--state', 'held', '--json')).stdout).toContain(h);

    const again = await mailway('queue', 'hold', h);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe(`${h}  no queued or deferred outbound job to hold\n`);

    const released = await mailway('queue', 'release', h);
    expect(released.code).toBe(0);
    expect(released.stdout).toBe(`${h}  released, runs now (outbound example.net, outbound example.com)\n`);
    expect(await states(h)).toEqual([
      ['fay@example.net', 'queued'],
      ['gus@example.com', 'queued'],
    ]);
    expect(((await queues.outbound.queue.getJob(outboundJobId(h, h, 'example.net')))!.data as OutboundJob).held).toBeUndefined();
    expect((await mailway('queue', 'release', h)).stdout).toBe(`${h}  no held outbound job\n`);

    // Every message with a recipient at a domain at once, then every held message.
    const byDomain = await mailway('queue', 'hold', '--all', '--domain', 'example.com');
    expect(byDomain.code).toBe(0);
    expect(byDomain.stdout.trimEnd().split('\n').map((line) => line.split('  ')[0]).sort()).toEqual([h, m].sort());
    expect((await states(h))?.map(([, state]) => state)).toEqual(['held', 'held']);
    expect((await states(x))?.map(([, state]) => state)).not.toContain('held');
    const releasedAll = await mailway('queue', 'release', '--all');
    expect(releasedAll.code).toBe(1);
    expect(releasedAll.stdout).toContain(`${h}  released, runs now`);
    expect(releasedAll.stdout).toContain(`${m}  released, runs now`);
    expect(releasedAll.stdout).toContain(`${x}  no held outbound job`);
    expect((await states(h))?.map(([, state]) => state)).toEqual(['queued', 'queued']);
    const neither = await mailway('queue', 'hold');
    expect(neither.code).toBe(64);
    expect(neither.stderr).toContain('hold needs queue ids or --all');
    // Fourteen commands, each a process of its own.
  }, 120_000);
});

describe('mailway queue flush', () => {
  it('says so when nothing is deferred', async () => {
    expect(await queues.outbound.queue.getDelayedCount()).toBe(0);
    const { stdout, code } = await mailway('queue', 'flush');
    expect(code).toBe(0);
    expect(stdout).toBe('no deferred outbound job\n');
  });
});

describe('mailway queue delete', () => {
  it('deletes every job of a message and its content; nothing of it is left in Redis', async () => {
    // Before: m's jobs and its content, one reference per recipient not yet delivered (bob, dave, erin).
    expect((await spool.stat(m))?.refs).toBe(3);
    expect(await leftOf(m)).not.toEqual([]);

    const { stdout, code } = await mailway('queue', 'delete', m);
    expect(code).toBe(0);
    expect(stdout).toBe(`${m}  deleted (transfer, outbound example.net, outbound example.com, delivery)\n`);
    expect(await spool.stat(m)).toBeNull();
    expect(await leftOf(m)).toEqual([]);
    expect(await queues.delivery.queue.getJob(deliveryJobId(m, 'erin@example.org'))).toBeUndefined();
    expect((await mailway('queue', 'show', m)).code).toBe(1);

    // A message not routed yet: its transfer job's references go with it.
    expect((await spool.stat(n))?.refs).toBe(2);
    expect((await mailway('queue', 'delete', n)).stdout).toBe(`${n}  deleted (transfer)\n`);
    expect(await spool.stat(n)).toBeNull();
    expect(await leftOf(n)).toEqual([]);
    expect(await queues.transfer.queue.getJob(transferJobId(n))).toBeUndefined();

    const none = await mailway('queue', 'delete', m);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe(`${m}  no job of this message\n`);
  });

  it('--all refuses without --yes, and with it deletes only the jobs to the domain', async () => {
    const refused = await mailway('queue', 'delete', '--all', '--domain', 'example.com');
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain('--all deletes every queued message to example.com and its content for good: add --yes to confirm');
    expect(await states(h)).toEqual([
      ['fay@example.net', 'queued'],
      ['gus@example.com', 'queued'],
    ]);

    const { stdout, code } = await mailway('queue', 'delete', '--all', '--domain', 'example.com', '--yes');
    expect(code).toBe(0);
    expect(stdout).toBe(`${h}  deleted (outbound example.com)\n`);
    expect(await states(h)).toEqual([['fay@example.net', 'queued']]);
    // fay's reference holds the content; gus's went.
    expect(await spool.stat(h)).toMatchObject({ refs: 1 });

    expect((await mailway('queue', 'delete', '--all', '--yes')).stdout.split('\n').sort()).toEqual(['', `${h}  deleted (outbound example.net)`, `${x}  deleted (outbound example.net)`].sort());
    expect(await spool.stat(h)).toBeNull();
    expect(await spool.stat(x)).toBeNull();
    expect(await leftOf(h)).toEqual([]);
    expect((await mailway('queue', 'list')).stdout).toBe('Mail queue is empty\n');
    expect((await mailway('queue', 'delete')).code).toBe(64);
  });
});
