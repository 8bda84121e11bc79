/**
 * Mail loops at the delivery agent: a message that already has Delivered-To for the mailbox,
 * an alias expansion that would close a cycle on the job's visited path or pass the hop limit,
 * and, on LMTP, a message over the hop limit at end of data. A loop fails for good with 554
 * 5.4.6 (outcome `loop`), keeping the spool reference for a bounce, unless the message is
 * itself a bounce: then it is dropped, its reference released.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transferJobId } from '@mailway/queue/jobs';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, message, startDelivery } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startDelivery();
  await h.agent.directory.addAlias('loopa@example.org', ['loopb@example.org']);
  await h.agent.directory.addAlias('loopb@example.org', ['loopa@example.org', 'bob@example.org']);
  await h.agent.directory.addAlias('self@example.org', ['self@example.org', 'bob@example.org']);
});
afterAll(() => h.close());

/** How many messages bob's Maildir holds. */
async function bobCount(): Promise<number> {
  return (await readdir(join(h.root, 'example.org', 'bob', 'Maildir', 'new')).catch(() => [])).length;
}

/** The value of a metric series, or 0. */
async function metric(line: RegExp): Promise<number> {
  const found = (await h.metrics.registry.metrics()).split('\n').find((l) => line.test(l));
  return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(' ') + 1));
}

/** `count` Received fields. */
function received(count: number): string {
  return Array.from({ length: count }, (_, i) => `Received: from hop${i}.example by hop${i + 1}.example with ESMTP id H${i}; Wed, 25 Nov 2026 10:00:00 +0000\r\n`).join('');
}

describe('Delivered-To', () => {
  it('a message that already has Delivered-To for the mailbox fails for good with 554 5.4.6, keeping its reference', async () => {
    const before = await bobCount();
    const loops = await metric(/^mailway_delivery_attempts_total\{.*outcome="loop".*source="queue"/);
    const content = Buffer.concat([Buffer.from('Delivered-To: elsewhere@example.net\r\nDelivered-To: <Bob@Example.org>\r\n'), message('came back')]);
    const { queueId, jobIds } = await h.enqueue(content, ['bob@example.org'], { attempts: 5 });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const job = await h.delivery.queue.getJob(jobIds[0]!);
    expect(job?.attemptsMade).toBe(1);
    expect(job?.failedReason).toMatch(/^554 5\.4\.6 routing loop: the message already has Delivered-To: bob@example\.org/);
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 1 });
    expect(await bobCount()).toBe(before);
    expect(await metric(/^mailway_delivery_attempts_total\{.*outcome="loop".*source="queue"/)).toBe(loops + 1);
    expect(h.logs.find((l) => l.jobId === jobIds[0] && l.outcome === 'loop')).toMatchObject({ level: 'error', path: 'bob@example.org -> bob@example.org', final: true });

    // Delivered-To for another mailbox is no loop.
    const other = await h.enqueue(Buffer.concat([Buffer.from('Delivered-To: elsewhere@example.net\r\n'), message('fine')]), ['bob@example.org']);
    expect(await h.settle(other.jobIds[0]!)).toBe('completed');
    expect(await bobCount()).toBe(before + 1);
  });

  it('a looping bounce (null sender) is dropped: reference released, job done, logged, never bounced', async () => {
    const before = await bobCount();
    const content = Buffer.concat([Buffer.from('Delivered-To: bob@example.org\r\n'), message('bounce')]);
    const { queueId, jobIds } = await h.enqueue(content, ['bob@example.org'], { from: '' });
    expect(await h.settle(jobIds[0]!)).toBe('completed');
    expect(await h.spool.stat(queueId)).toBeNull();
    expect(await bobCount()).toBe(before);
    expect(h.logs.find((l) => l.jobId === jobIds[0] && l.outcome === 'loop')).toMatchObject({ level: 'error', msg: 'delivery failed for good: bounce dropped, never bounced', from: '' });
  });
});

describe('alias expansion', () => {
  it('cuts a cycle at its first repeat: the others go on, the looping target is not sent round again', async () => {
    // loopb reached from loopa: loopb -> [loopa, bob]; loopa is on the path.
    const { queueId, jobIds } = await h.enqueue(message('cycle'), ['loopb@example.org'], { hops: 3, visited: ['loopa@example.org'] });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    const job = await h.delivery.queue.getJob(jobIds[0]!);
    expect(job?.failedReason).toMatch(/^554 5\.4\.6 routing loop: alias expansion loopa@example\.org -> loopb@example\.org -> loopa@example\.org/);
    const transfer = await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0]));
    expect(transfer?.data).toMatchObject({ hops: 4, visited: ['loopa@example.org', 'loopb@example.org'], envelope: { recipients: [{ address: 'bob@example.org' }] } });
    // One transfer job for the message: bob's (the failure notice to its sender is a message of its own).
    const waiting = await h.transfer.queue.getJobs(['waiting']);
    expect(waiting.filter((j) => (j.data as { queueId: string }).queueId === queueId)).toHaveLength(1);
    // One reference for bob's transfer job, one kept with the failure.
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 2 });
    expect(h.logs.find((l) => l.jobId === jobIds[0] && l.outcome === 'loop')).toMatchObject({ path: 'loopa@example.org -> loopb@example.org -> loopa@example.org' });
    await h.transfer.queue.obliterate({ force: true });
  });

  it('an expansion that would pass the hop limit fails for good, sending nothing on', async () => {
    const { queueId, jobIds } = await h.enqueue(message('far'), ['team@example.org'], { hops: 50 });
    expect(await h.settle(jobIds[0]!)).toBe('failed');
    expect((await h.delivery.queue.getJob(jobIds[0]!))?.failedReason).toMatch(/^554 5\.4\.6 routing loop: hop count 51 would exceed 50/);
    expect(await h.transfer.queue.getJob(transferJobId(queueId, jobIds[0]))).toBeUndefined();
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 1 });
  });
});

describe('LMTP', () => {
  /** One LMTP transaction; the replies after the data, one per recipient. */
  async function lmtp(recipients: string[], raw: string, from = 'alice@remote.example'): Promise<string[]> {
    const { dialog } = await Dialog.open(h.agent.lmtpPort!);
    try {
      expect((await dialog.command('LHLO client.example')).code).toBe(250);
      expect((await dialog.command(`MAIL FROM:<${from}>`)).code).toBe(250);
      for (const r of recipients) expect((await dialog.command(`RCPT TO:<${r}>`)).code).toBe(250);
      const replies = [await dialog.data(raw)];
      while (replies.length < recipients.length) replies.push(await dialog.reply());
      return replies.map((r) => r.status);
    } finally {
      await dialog.close();
    }
  }

  it('refuses a message with 51 Received fields for every recipient with 554 5.4.6, storing nothing', async () => {
    const before = await bobCount();
    const spooled = (await h.redis.keys(`${h.config.redis.prefix}spool:*`)).length;
    const loops = await metric(/^mailway_delivery_attempts_total\{.*outcome="loop".*source="lmtp"/);
    expect(await lmtp(['bob@example.org', 'carol@example.org'], `${received(51)}Subject: hops\r\n\r\nround and round\r\n`)).toEqual(['554 5.4.6', '554 5.4.6']);
    expect((await h.redis.keys(`${h.config.redis.prefix}spool:*`)).length).toBe(spooled);
    expect(await bobCount()).toBe(before);
    expect(await metric(/^mailway_delivery_attempts_total\{.*outcome="loop".*source="lmtp"/)).toBe(loops + 2);
    // 50 is within the limit.
    expect(await lmtp(['bob@example.org'], `${received(50)}Subject: hops\r\n\r\nfine\r\n`)).toEqual(['250 2.0.0']);
  });

  it('answers 554 5.4.6 for a recipient whose mailbox the message was delivered to before, 250 for the others', async () => {
    const raw = `Delivered-To: bob@example.org\r\nSubject: back\r\n\r\nagain\r\n`;
    expect(await lmtp(['bob@example.org', 'carol@example.org'], raw)).toEqual(['554 5.4.6', '250 2.0.0']);
  });

  it('answers 554 5.4.6 for an alias that names itself, sending its other target on', async () => {
    const [status] = await lmtp(['self@example.org'], 'Subject: self\r\n\r\nme\r\n');
    expect(status).toBe('554 5.4.6');
    // The transfer jobs of this expansion (notices to senders and earlier tests' jobs left aside).
    const jobs = (await h.transfer.queue.getJobs(['waiting'])).filter((j) => ((j.data as { visited?: string[] }).visited ?? []).includes('self@example.org'));
    expect(jobs.map((j) => (j.data as { envelope: { recipients: { address: string }[] } }).envelope.recipients.map((r) => r.address))).toEqual([['bob@example.org']]);
    expect(jobs[0]?.data).toMatchObject({ hops: 1, visited: ['self@example.org'] });
  });
});
