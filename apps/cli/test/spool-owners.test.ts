/**
 * Spool entries and their owners, across the whole stack: `mailway start` (three agents, each
 * its own process) with failed jobs kept 2 s. Mail arrives on the relay port from a trusted
 * network: to a user (delivered), through aliases to addresses with no mailbox (failed for
 * good; one of those failed jobs then deleted by an operator), and to a remote domain (waiting
 * on `outbound`: the relay runs without its outbound role here, so nothing sends it). Once BullMQ has dropped the old failed jobs, the
 * stored content — Redis keys, or the files of a filesystem spool after the agents' sweep — is
 * exactly that of the jobs still live or still kept.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Job, type JobType, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bullPrefix } from '@mailway/queue/queues';
import { type Spool, createFsSpool, createRedisSpool } from '@mailway/queue/spool';
import { type Stack, startStack } from './support/stack.js';

const retentionMs = 2000;
const queueLifetimeMs = 5 * 24 * 60 * 60 * 1000;
const liveStates: JobType[] = ['waiting', 'delayed', 'prioritized', 'active', 'waiting-children'];

describe.each(['redis', 'fs'] as const)('spool entries and their owners across the stack, %s spool', (backend) => {
  let h: Stack;
  let env: Record<string, string>;
  let redis: Redis;
  let spool: Spool;
  let queues: Record<'transfer' | 'delivery' | 'outbound', Queue>;
  const mailway = (...args: string[]): Promise<string> => h.mailway(...args);
  const until = <T>(what: string, probe: () => Promise<T | null>): Promise<T> => h.waitFor(what, probe, 60_000);

  beforeAll(async () => {
    const spoolDir = join(process.env.TMPDIR ?? '/tmp', `mailway-owners-${randomUUID()}`);
    h = await startStack({
      RELAY_NETWORKS: '127.0.0.0/8',
      // Remote mail waits on `outbound`: its content must stay owned while nothing sends it.
      RELAY_ROLES: 'inbound,router',
      MAILWAY_FAILED_RETENTION: `${retentionMs}ms`,
      MAILWAY_SPOOL: backend,
      MAILWAY_SPOOL_DIR: spoolDir,
      MAILWAY_SPOOL_SWEEP_INTERVAL: '1s',
    });
    env = h.env;
    const prefix = env.MAILWAY_REDIS_PREFIX!;
    redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
    spool = backend === 'fs' ? createFsSpool({ directory: spoolDir }) : createRedisSpool(redis, { prefix });
    const connection = { connection: redis, prefix: bullPrefix(prefix) };
    queues = { transfer: new Queue('transfer', connection), delivery: new Queue('delivery', connection), outbound: new Queue('outbound', connection) };
  }, 120_000);

  afterAll(async () => {
    await h.close();
    await Promise.all(Object.values(queues).map((queue) => queue.close()));
    const keys = await redis.keys(`${env.MAILWAY_REDIS_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await rm(env.MAILWAY_SPOOL_DIR!, { recursive: true, force: true });
  }, 60_000);

  /** Sends a message on the relay port, as another MTA would; resolves with its queue id. */
  async function relay(to: string[], subject: string): Promise<string> {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: Number(env.RELAY_PORT), secure: false, tls: { rejectUnauthorized: false } });
    const raw = `From: someone@remote.example\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\nMessage-ID: <${randomUUID()}@remote.example>\r\n\r\nbody\r\n`;
    const info = await transport.sendMail({ envelope: { from: 'someone@remote.example', to }, raw });
    transport.close();
    const queueId = /queued as (\S+)/.exec(info.response)?.[1];
    if (queueId === undefined) throw new Error(`unexpected reply ${info.response}`);
    return queueId;
  }

  /** The ids that have anything stored: Redis keys, or entry directories. */
  async function stored(): Promise<string[]> {
    if (backend === 'fs') return (await readdir(env.MAILWAY_SPOOL_DIR!).catch(() => [] as string[])).filter((name) => !name.startsWith('.')).sort();
    const keys = await redis.keys(`${env.MAILWAY_REDIS_PREFIX}spool:*`);
    return [...new Set(keys.map((key) => key.slice(key.indexOf('{') + 1, key.indexOf('}'))))].sort();
  }

  /** The spool ids of jobs still live, and of failed jobs still within their retention. */
  async function owned(): Promise<string[]> {
    const ids = new Set<string>();
    for (const queue of Object.values(queues)) {
      for (const job of await queue.getJobs(liveStates)) ids.add((job.data as { spoolId: string }).spoolId);
      for (const job of await queue.getJobs(['failed'])) if ((job.finishedOn ?? 0) + retentionMs > Date.now()) ids.add((job.data as { spoolId: string }).spoolId);
    }
    return [...ids].sort();
  }

  /** The failed delivery job for `address`, once there is one. */
  function failedFor(address: string): Promise<Job> {
    return until(`a failed delivery to ${address}`, async () => (await queues.delivery.getJobs(['failed'])).find((job) => (job.data as { recipient: { address: string } }).recipient.address === address) ?? null);
  }

  it('keeps exactly the content of live and kept jobs, and lets the rest go', async () => {
    await mailway('domain', 'add', 'example.org');
    await mailway('user', 'add', 'bob@example.org', 'bob-secret');
    await mailway('alias', 'add', 'lost@example.org', 'ghost@example.org');
    await mailway('alias', 'add', 'gone@example.org', 'phantom@example.org');

    const delivered = await relay(['bob@example.org'], 'delivered');
    const failed = await relay(['lost@example.org'], 'failed');
    const deleted = await relay(['gone@example.org'], 'deleted');
    const remote = await relay(['friend@remote.example'], 'remote');
    const mixed = await relay(['bob@example.org', 'friend@remote.example', 'lost@example.org'], 'mixed');

    // Wait for every outcome: two failures for ghost, one for phantom, two outbound jobs waiting.
    await until('two failures for ghost', async () => ((await queues.delivery.getJobs(['failed'])).filter((job) => (job.data as { recipient: { address: string } }).recipient.address === 'ghost@example.org').length === 2 ? true : null));
    await (await failedFor('phantom@example.org')).remove();
    // (Besides the failure notices to the remote sender, from <>, which wait on `outbound` too.)
    await until('two outbound jobs', async () => ((await queues.outbound.getJobs(['waiting'])).filter((job) => (job.data as { envelope: { from: string } }).envelope.from !== '').length === 2 ? true : null));
    // Bob's two copies stored (delivered, mixed) and nothing left to run on delivery (a job
    // queued straight from the intake is deleted once it completes, so completed jobs do not tell).
    const bobsNew = join(h.home, 'mail', 'example.org', 'bob', 'Maildir', 'new');
    await until('bob\'s deliveries', async () => ((await readdir(bobsNew).catch(() => [])).length === 2 && (await queues.delivery.getJobCountByTypes(...liveStates)) === 0 ? true : null));

    // While the failed jobs are kept, so is their content; delivered mail is gone.
    const before = await stored();
    expect(before).toEqual(expect.arrayContaining([failed, deleted, remote, mixed]));
    expect(before).not.toContain(delivered);

    // Past the retention, one more failure makes BullMQ drop the old failed jobs.
    await new Promise((resolve) => setTimeout(resolve, retentionMs + 200));
    const later = await relay(['lost@example.org'], 'later');
    await until('the later failure', async () => ((await queues.delivery.getJobs(['failed'])).some((job) => (job.data as { spoolId: string }).spoolId === later) ? true : null));
    const droppedByBullmq = (await queues.delivery.getJobs(['failed'])).every((job) => (job.data as { spoolId: string }).spoolId === later);
    // (What BullMQ's removeOnFail does, done once more by hand: a no-op unless it did not.)
    await queues.delivery.clean(retentionMs, 1000, 'failed');

    // Stored is owned: the outbound jobs' content, and the later failure's while it is kept.
    const deadline = Date.now() + 20_000;
    let [now, want] = [await stored(), await owned()];
    while (JSON.stringify(now) !== JSON.stringify(want) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      [now, want] = [await stored(), await owned()];
    }
    expect(now).toEqual(want);
    expect(now).toEqual(expect.arrayContaining([remote, mixed]));
    for (const gone of [delivered, failed, deleted]) expect(now).not.toContain(gone);
    expect(await spool.readAll(mixed)).toBeInstanceOf(Buffer);
    expect(droppedByBullmq).toBe(true);

    // Remote mail waits with its content, which still has an owner: a deadline of the queue
    // lifetime and then a failed job's retention, counted from when the relay received it (a
    // moment before it was spooled).
    const waiting = await spool.stat(remote);
    const receivedAt = (waiting?.expiresAt?.getTime() ?? 0) - queueLifetimeMs - retentionMs;
    expect(receivedAt).toBeGreaterThan(waiting!.createdAt.getTime() - 60_000);
    expect(receivedAt).toBeLessThanOrEqual(waiting!.createdAt.getTime());
  }, 180_000);
});
