/**
 * Alias loops on the whole stack (`mailway start`): cycles that reach the directory anyway
 * (`mailway alias add` refuses them, but seed files, the API or a catch-all can still make
 * them) receive one message on the relay port. After it settles, the transfer and delivery
 * queues hold exactly the few jobs of one trip round the cycle (the message itself, for one
 * local recipient, goes straight to a delivery job; each expansion adds one transfer job), the looping recipient's job has
 * failed with 554 5.4.6, and the other targets of the same expansion got one copy each.
 * Then `mailway alias add` itself refuses to close a cycle, naming it.
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Directory, createDirectory } from '@mailway/directory';
import { bullPrefix } from '@mailway/queue/queues';
import { type Stack, startStack } from './support/stack.js';

let s: Stack;
let redis: Redis;
let directory: Directory;
let transfer: Queue;
let delivery: Queue;

beforeAll(async () => {
  s = await startStack();
  const prefix = s.env.MAILWAY_REDIS_PREFIX ?? '';
  redis = new Redis(s.env.REDIS_URL ?? '', { maxRetriesPerRequest: null });
  directory = createDirectory(redis, { prefix });
  transfer = new Queue('transfer', { connection: redis, prefix: bullPrefix(prefix) });
  delivery = new Queue('delivery', { connection: redis, prefix: bullPrefix(prefix) });

  await s.mailway('domain', 'add', 'loop.example');
  await s.mailway('domain', 'add', 'catch.example');
  for (const user of ['keep', 'keep3']) await s.mailway('user', 'add', `${user}@loop.example`, 'secret');
  // Straight into the directory: the CLI would refuse the last link of each cycle.
  await directory.addAlias('a@loop.example', ['b@loop.example', 'keep@loop.example']);
  await directory.addAlias('b@loop.example', ['a@loop.example']);
  await directory.addAlias('c1@loop.example', ['c2@loop.example']);
  await directory.addAlias('c2@loop.example', ['c3@loop.example']);
  await directory.addAlias('c3@loop.example', ['c1@loop.example', 'keep3@loop.example']);
  await directory.addAlias('hub@catch.example', ['lost@catch.example']);
  await directory.setCatchAll('catch.example', 'hub@catch.example');
}, 90_000);

afterAll(async () => {
  await s.close();
  await Promise.all([transfer?.close(), delivery?.close()]);
  const keys = await redis.keys(`${s.env.MAILWAY_REDIS_PREFIX ?? ''}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const states = ['waiting', 'delayed', 'prioritized', 'waiting-children', 'active', 'completed', 'failed'] as const;
const pending = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'active']);

/** The jobs of one message in a queue, with their states. */
async function jobsOf(queue: Queue, queueId: string): Promise<{ job: Job; state: string }[]> {
  const found: { job: Job; state: string }[] = [];
  for (const state of states) {
    for (const job of await queue.getJobs([state], 0, -1)) if ((job.data as { queueId: string }).queueId === queueId) found.push({ job, state });
  }
  return found;
}

/** Send one message to `to` on the relay port; its queue id. */
async function sendOnPort25(to: string, subject: string): Promise<string> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(s.env.RELAY_PORT), secure: false, ignoreTLS: true, name: 'mx.remote.example' });
  try {
    const info = await transport.sendMail({ envelope: { from: 'someone@remote.example', to: [to] }, raw: `From: someone@remote.example\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nround and round?\r\n` });
    const match = /queued as ([0-9A-Z]+)/.exec(info.response);
    if (!match?.[1]) throw new Error(`no queue id in ${info.response}`);
    return match[1];
  } finally {
    transport.close();
  }
}

/** Wait until no job of the message is pending any more (nothing can then add another); its jobs per queue. */
async function settled(queueId: string): Promise<{ transfer: { job: Job; state: string }[]; delivery: { job: Job; state: string }[] }> {
  return s.waitFor(
    `message ${queueId} to settle`,
    async () => {
      const found = { transfer: await jobsOf(transfer, queueId), delivery: await jobsOf(delivery, queueId) };
      const all = [...found.transfer, ...found.delivery];
      return all.some((j) => pending.has(j.state)) || !all.some((j) => j.state === 'failed') ? null : found;
    },
    60_000,
  );
}

/** The messages with `subject` in a user's Maildir. */
async function copies(user: string, domain: string, subject: string): Promise<number> {
  const dir = join(s.home, 'mail', domain, user, 'Maildir', 'new');
  const names = await readdir(dir).catch(() => [] as string[]);
  const bodies = await Promise.all(names.map((name) => readFile(join(dir, name), 'utf8')));
  return bodies.filter((body) => body.includes(`Subject: ${subject}`)).length;
}

/** The recipient and state of each delivery job, sorted. */
function summary(jobs: { job: Job; state: string }[]): string[] {
  return jobs.map(({ job, state }) => `${(job.data as { recipient: { address: string } }).recipient.address} ${state}`).sort();
}

describe('alias loops on the whole stack', () => {
  it('a <-> b: one trip round, b fails with 554 5.4.6, keep gets one copy, and the queues stay as they are', async () => {
    const subject = `two ${randomUUID()}`;
    const queueId = await sendOnPort25('a@loop.example', subject);
    const found = await settled(queueId);
    // a's expansion; the message itself went straight to a's delivery job, deleted once it completed.
    expect(found.transfer).toHaveLength(1);
    expect(summary(found.delivery)).toEqual(['b@loop.example failed', 'keep@loop.example completed']);
    const failed = found.delivery.find((j) => j.state === 'failed');
    expect(failed?.job.failedReason).toMatch(/^554 5\.4\.6 routing loop: alias expansion a@loop\.example -> b@loop\.example -> a@loop\.example/);
    expect(failed?.job.attemptsMade).toBe(1);
    await s.waitFor('keep\'s copy', async () => ((await copies('keep', 'loop.example', subject)) === 1 ? true : null));

    // Nothing more comes: the counts are the same a while later, and keep still has one copy.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await jobsOf(transfer, queueId)).length).toBe(1);
    expect((await jobsOf(delivery, queueId)).length).toBe(2);
    expect(await copies('keep', 'loop.example', subject)).toBe(1);
  });

  it('c1 -> c2 -> c3 -> c1: cut at the repeat, keep3 (beside c1 in c3\'s expansion) gets one copy', async () => {
    const subject = `three ${randomUUID()}`;
    const queueId = await sendOnPort25('c1@loop.example', subject);
    const found = await settled(queueId);
    // c2, c3 and keep3 re-injected once each (c1's message went straight to its delivery job, deleted once it completed).
    expect(found.transfer).toHaveLength(3);
    expect(summary(found.delivery)).toEqual(['c2@loop.example completed', 'c3@loop.example failed', 'keep3@loop.example completed']);
    expect(found.delivery.find((j) => j.state === 'failed')?.job.failedReason).toMatch(/^554 5\.4\.6 routing loop: alias expansion c1@loop\.example -> c2@loop\.example -> c3@loop\.example -> c1@loop\.example/);
    await s.waitFor('keep3\'s copy', async () => ((await copies('keep3', 'loop.example', subject)) === 1 ? true : null));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await jobsOf(transfer, queueId)).length).toBe(3);
    expect((await jobsOf(delivery, queueId)).length).toBe(3);
  });

  it('a catch-all to an alias that points back into the domain: cut at the repeat', async () => {
    const queueId = await sendOnPort25('lost@catch.example', `catch ${randomUUID()}`);
    const found = await settled(queueId);
    expect(found.transfer).toHaveLength(1);
    // lost@'s own delivery job, queued straight from the intake, is deleted once it completed.
    expect(summary(found.delivery)).toEqual(['hub@catch.example failed']);
    expect(found.delivery.find((j) => j.state === 'failed')?.job.failedReason).toMatch(/^554 5\.4\.6 routing loop: alias expansion lost@catch\.example -> hub@catch\.example -> lost@catch\.example/);
  });
});

describe('mailway alias add', () => {
  it('refuses an alias that would close a cycle, naming it, and stores nothing', async () => {
    await s.mailway('alias', 'add', 'p@loop.example', 'q@loop.example');
    await s.mailway('alias', 'add', 'q@loop.example', 'r@loop.example', 'keep@loop.example');
    const refused = s.mailway('alias', 'add', 'r@loop.example', 'P@loop.example');
    await expect(refused).rejects.toMatchObject({ code: 1, stderr: 'mailway alias add: refused: r@loop.example would close an alias loop: r@loop.example -> p@loop.example -> q@loop.example -> r@loop.example\n' });
    expect(await s.mailway('alias', 'list')).not.toContain('r@loop.example ->');
    // A target that only shares a path is fine.
    await s.mailway('alias', 'add', 'r@loop.example', 'keep@loop.example');
    expect(await s.mailway('alias', 'list')).toContain('r@loop.example -> keep@loop.example');
  });
});
