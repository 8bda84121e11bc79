/**
 * sendNotice against a real Redis: a notice goes on `transfer` from `<>` under the queue id
 * given; sent again, it is not written again, even once the original is gone (a job that let go
 * of the content after its notice went). And NOTIFY for the members of an expanded list.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { newQueueId } from '@mailway/queue/jobs';
import { type MailQueue, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { type Spool, createRedisSpool } from '@mailway/queue/spool';
import { type NoticeContext, noticeQueueId, notifyAfterExpansion, sendNotice } from './send.js';

const url = process.env.MAILWAY_TEST_REDIS_URL!;
const prefix = `mailway-test:${randomUUID()}:`;
let redis: Redis;
let spool: Spool;
let transfer: MailQueue<'transfer'>;
let context: NoticeContext;

beforeAll(async () => {
  redis = createRedis(url);
  await waitForRedis(redis);
  spool = createRedisSpool(redis, { prefix });
  transfer = createMailQueue('transfer', redis, { prefix: bullPrefix(prefix) });
  context = { hostname: 'mx.test.example', spool, targets: { spool, transfer }, returnLimit: 100_000, agent: 'delivery' };
});
afterAll(async () => {
  await transfer.queue.obliterate({ force: true });
  await transfer.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('sendNotice', () => {
  it('queues the notice once; sent again after the original is gone, it writes nothing and says so', async () => {
    const queueId = newQueueId();
    await spool.write(queueId, Buffer.from('Subject: hi\r\n\r\nHello.\r\n'), { refs: 1 });
    const subject = { queueId, spoolId: queueId, envelope: { from: 'ann@remote.example', envid: null, ret: null }, origin: { receivedAt: new Date().toISOString() } };
    const recipient = { address: 'bob@example.org', orcpt: null, action: 'delivered' as const, status: '2.0.0', remoteMta: null, remoteReply: null, detail: 'delivered', lastAttempt: null, willRetryUntil: null };
    const notice = noticeQueueId(queueId, 'delivered|job-1');

    expect(await sendNotice(notice, subject, [recipient], context)).toBe(true);
    expect((await transfer.queue.getJob(notice))?.data).toMatchObject({ envelope: { from: '', recipients: [{ address: 'ann@remote.example' }] } });

    await spool.remove(queueId);
    expect(await sendNotice(notice, subject, [recipient], context)).toBe(false);
    expect(await transfer.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });
});

describe('notifyAfterExpansion', () => {
  it.each([
    [null, null],
    ['NEVER', 'NEVER'],
    [['SUCCESS'], 'NEVER'],
    [['SUCCESS', 'FAILURE'], ['FAILURE']],
    [['FAILURE', 'DELAY'], ['FAILURE', 'DELAY']],
  ] as const)('%j becomes %j', (given, expected) => {
    expect(notifyAfterExpansion(given === null || given === 'NEVER' ? given : [...given])).toEqual(expected);
  });
});
