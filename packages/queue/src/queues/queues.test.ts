import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { type Job, Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { startRedis } from '@mailway/vitest-config/redis';
import { createRedis } from '../redis/connection.js';
import { waitForRedis } from '../redis/wait.js';
import { type DeliveryJob, type OutboundJob, type TransferJob, deliveryJobId, newQueueId } from '../jobs/index.js';
import { cappedBackoff } from './backoff.js';
import { createMailQueue } from './queue.js';
import { createMailWorker } from './worker.js';
import { defaultFailedRetentionMs, failedJobDeadline, jobOptions } from './options.js';

const url = process.env.MAILWAY_TEST_REDIS_URL!;
const prefix = `mailway-test:${randomUUID()}`;

function transferJob(queueId = newQueueId()): TransferJob {
  return {
    queueId,
    spoolId: queueId,
    size: 321,
    messageId: '<m1@example.org>',
    envelope: {
      from: 'alice@example.org',
      recipients: [{ address: 'bob@example.net', notify: ['FAILURE'], orcpt: { type: 'rfc822', address: 'bob@example.net' } }],
      body: '8BITMIME',
      smtputf8: false,
      ret: 'HDRS',
      envid: 'ENV-1',
      requireTls: false,
    },
    origin: {
      agent: 'submission',
      client: { address: '192.0.2.7', port: 50123, helo: 'laptop' },
      user: 'alice',
      tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
      receivedAt: new Date().toISOString(),
    },
  };
}

function deliveryJob(queueId: string, address: string): DeliveryJob {
  const { envelope, origin, ...rest } = transferJob(queueId);
  return { ...rest, from: envelope.from, recipient: { address, notify: null, orcpt: null }, origin };
}

let command: Redis;
let worker: Redis;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  command = createRedis(url, { role: 'command' });
  worker = createRedis(url, { role: 'worker' });
  await Promise.all([waitForRedis(command), waitForRedis(worker)]);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  const keys: string[] = [];
  for await (const batch of command.scanStream({ match: `${prefix}:*`, count: 1000 })) keys.push(...(batch as string[]));
  if (keys.length > 0) await command.del(...keys);
  command.disconnect();
  worker.disconnect();
});

/** Closed after all tests. */
function closing<T extends { close(): Promise<unknown> }>(thing: T): T {
  closers.push(() => thing.close());
  return thing;
}

/** Resolves with the first job the worker fails. */
function nextFailure(w: Worker): Promise<[Job, Error]> {
  return once(w, 'failed') as Promise<[Job, Error]>;
}

describe('createMailQueue + createMailWorker', () => {
  it('a worker receives exactly the typed payload that was added', async () => {
    const queue = closing(createMailQueue('transfer', command, { prefix }));
    const payload = transferJob();
    const received = new Promise<{ data: TransferJob; job: Job }>((resolve) => {
      closing(createMailWorker('transfer', worker, async (data, job) => resolve({ data, job }), { prefix }));
    });
    const id = await queue.add(payload);
    expect(id).toBe(payload.queueId);
    const { data, job } = await received;
    expect(data).toEqual(payload);
    expect(job.id).toBe(payload.queueId);
    expect(job.name).toBe('transfer');
  });

  it('adding the same transfer job twice yields one job', async () => {
    const queue = closing(createMailQueue('transfer', command, { prefix: `${prefix}-dup` }));
    const payload = transferJob();
    const first = await queue.add(payload);
    const second = await queue.add({ ...payload, size: 999 });
    expect(second).toBe(first);
    expect(await queue.queue.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 1, delayed: 0, active: 0 });
    expect((await queue.queue.getJob(first))?.data.size).toBe(321);
  });

  it('one delivery job per recipient, whatever the address case', async () => {
    const queue = closing(createMailQueue('delivery', command, { prefix: `${prefix}-delivery` }));
    const queueId = newQueueId();
    const bob = await queue.add(deliveryJob(queueId, 'bob@example.org'));
    expect(await queue.add(deliveryJob(queueId, 'Bob@Example.org'))).toBe(bob);
    const carol = await queue.add(deliveryJob(queueId, 'carol@example.org'));
    expect([bob, carol]).toEqual([deliveryJobId(queueId, 'bob@example.org'), deliveryJobId(queueId, 'carol@example.org')]);
    expect(await queue.queue.getWaitingCount()).toBe(2);
  });

  it('keeps a completed job a day by default, and deletes it at once when added with keepCompleted: false', async () => {
    const queue = closing(createMailQueue('delivery', command, { prefix: `${prefix}-kept` }));
    const queueId = newQueueId();
    const kept = await queue.add(deliveryJob(queueId, 'kept@example.org'));
    const dropped = await queue.add(deliveryJob(queueId, 'dropped@example.org'), { keepCompleted: false });
    const done = new Promise<void>((resolve) => {
      let completed = 0;
      const w = closing(createMailWorker('delivery', worker, async () => {}, { prefix: `${prefix}-kept` }));
      w.on('completed', () => ++completed === 2 && resolve());
    });
    await done;
    expect(await (await queue.queue.getJob(kept))?.getState()).toBe('completed');
    expect(await queue.queue.getJob(dropped)).toBeUndefined();
    expect(await command.exists(`${prefix}-kept:delivery:${dropped}`)).toBe(0);
  });

  it('applies delayMs and attempts', async () => {
    const queue = closing(createMailQueue('transfer', command, { prefix: `${prefix}-delay` }));
    const id = await queue.add(transferJob(), { delayMs: 60_000, attempts: 9 });
    const job = await queue.queue.getJob(id);
    expect(await job?.getState()).toBe('delayed');
    expect(job?.opts.attempts).toBe(9);
  });

  it('an outbound job that throws is retried past the default five runs, with a backoff capped at an hour', async () => {
    const queue = closing(createMailQueue('outbound', command, { prefix: `${prefix}-outbound` }));
    const queueId = newQueueId();
    const payload: OutboundJob = { ...transferJob(queueId), parent: queueId, domain: 'example.net' };
    const id = await queue.add(payload);
    expect((await queue.queue.getJob(id))?.opts).toMatchObject({ attempts: 500, backoff: { type: 'capped', delay: 30_000 } });

    // The same job with a short first wait: six runs throw, the seventh succeeds.
    const quick = closing(new Queue('outbound', { connection: command, prefix: `${prefix}-outbound-quick` }));
    await quick.add('outbound', payload, { jobId: id, attempts: 500, backoff: { type: 'capped', delay: 5 } });
    let runs = 0;
    const done = new Promise<number>((resolve) => {
      closing(
        createMailWorker('outbound', worker, async () => {
          runs += 1;
          if (runs <= 6) throw new Error(`run ${runs}: Redis went away`);
          resolve(runs);
        }, { prefix: `${prefix}-outbound-quick` }),
      );
    });
    expect(await done).toBe(7);

    expect([1, 2, 3, 8, 50].map((n) => cappedBackoff(n, 30_000, () => 1))).toEqual([30_000, 60_000, 120_000, 3_600_000, 3_600_000]);
    expect(cappedBackoff(1, 30_000, () => 0)).toBe(24_000);
  }, 20_000);

  it('refuses an invalid payload before it reaches Redis', async () => {
    const queue = closing(createMailQueue('transfer', command, { prefix: `${prefix}-invalid` }));
    const bad = { ...transferJob(), envelope: { ...transferJob().envelope, recipients: [] } };
    await expect(queue.add(bad)).rejects.toThrow(/recipients/);
    expect(await queue.queue.count()).toBe(0);
  });

  it('fails an invalid payload added behind its back at once, never retried', async () => {
    const raw = closing(new Queue('delivery', { connection: command, prefix }));
    let calls = 0;
    const w = closing(
      createMailWorker(
        'delivery',
        worker,
        async () => {
          calls += 1;
        },
        { prefix },
      ),
    );
    const failed = nextFailure(w);
    await raw.add('delivery', { queueId: newQueueId(), recipient: 'bob@example.org' }, { jobId: 'bad-payload', attempts: 5, backoff: 1 });
    const [job, error] = await failed;
    expect(job.id).toBe('bad-payload');
    expect(error.name).toBe('UnrecoverableError');
    expect(error.message).toMatch(/invalid delivery job bad-payload:[\s\S]*recipient/);
    expect(await raw.getJobState('bad-payload')).toBe('failed');
    expect((await raw.getJob('bad-payload'))?.attemptsMade).toBe(1);
    expect(calls).toBe(0);
  });

  it('keeps failed jobs as long as configured, and says until when', async () => {
    const queue = closing(createMailQueue('transfer', command, { prefix: `${prefix}-retention`, failedRetentionMs: 2500 }));
    const id = await queue.add(transferJob());
    expect((await queue.queue.getJob(id))?.opts.removeOnFail).toEqual({ age: 3 });
    expect(() => jobOptions(0)).toThrow(RangeError);
    const now = Date.parse('2026-12-01T00:00:00Z');
    const cases: [Parameters<typeof failedJobDeadline>[0], number][] = [
      // The job's own age, and a grace of as much again, at most a minute.
      [{ removeOnFail: { age: 3 } }, now + 6000],
      [{ removeOnFail: { age: 14 * 24 * 3600 } }, now + defaultFailedRetentionMs + 60_000],
      // Kept with no age limit: the default retention. Removed at once: no time at all.
      [{ removeOnFail: { count: 10 } }, now + defaultFailedRetentionMs + 60_000],
      [{}, now + defaultFailedRetentionMs + 60_000],
      [{ removeOnFail: true }, now],
    ];
    for (const [opts, deadline] of cases) expect(failedJobDeadline(opts, now).getTime(), JSON.stringify(opts)).toBe(deadline);
  });

  it('a worker needs a worker-role connection', () => {
    expect(() => createMailWorker('transfer', command, async () => {}, { prefix, autorun: false })).toThrow(/maxRetriesPerRequest/);
  });
});

describe('when Redis is down', () => {
  it('add rejects at once instead of waiting for Redis', async () => {
    const server = await startRedis();
    const redis = createRedis(server.url, { role: 'command' });
    redis.on('error', () => {});
    try {
      await waitForRedis(redis);
      const queue = createMailQueue('transfer', redis);
      expect(await queue.add(transferJob())).toMatch(/^[0-9A-Z]{20}$/);
      const closed = new Promise((resolve) => redis.once('close', resolve));
      await server.stop();
      await expect(queue.add(transferJob())).rejects.toThrow();
      // Once the client knows, a queue made while Redis is down refuses the same way.
      await closed;
      const late = createMailQueue('delivery', redis);
      await expect(late.add(deliveryJob(newQueueId(), 'bob@example.org'))).rejects.toThrow(/not connected/);
      await Promise.allSettled([queue.close(), late.close()]);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
