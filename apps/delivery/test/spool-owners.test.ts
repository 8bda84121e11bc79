/**
 * Every spool entry has an owner that removes it: a mix of delivered, permanently failed,
 * operator-removed and still-live messages runs through the real delivery agent (worker, spool,
 * queues) against the run's Redis, with failed jobs kept 2 s (MAILWAY_FAILED_RETENTION). Once
 * BullMQ has dropped the old failed jobs, the stored content — Redis keys, or files of the
 * filesystem spool after the agent's own sweep — is exactly that of the jobs still live or
 * still kept.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobType } from 'bullmq';
import type { MailQueue } from '@mailway/queue/queues';
import { type Harness, message, startDelivery } from './support/harness.js';

const retentionMs = 2000;
const liveStates: JobType[] = ['waiting', 'delayed', 'prioritized', 'active', 'waiting-children'];

/**
 * The spool ids of jobs still live, and of failed jobs BullMQ still keeps within their
 * retention; a job that carries its message owns no entry.
 */
async function owned(queues: MailQueue<'delivery' | 'transfer'>[]): Promise<string[]> {
  const ids = new Set<string>();
  const spooled = (job: { data: unknown }): string | null => {
    const data = job.data as { spoolId: string; content?: string };
    return data.content === undefined ? data.spoolId : null;
  };
  for (const { queue } of queues) {
    for (const job of await queue.getJobs(liveStates)) ids.add(spooled(job) ?? '');
    for (const job of await queue.getJobs(['failed'])) {
      if ((job.finishedOn ?? 0) + retentionMs > Date.now()) ids.add(spooled(job) ?? '');
    }
  }
  ids.delete('');
  return [...ids].sort();
}

/** Polls until `probe` gives `expected` (expiry and sweeps run on their own time), or returns the last value. */
async function settleTo(probe: () => Promise<string[]>, expected: () => Promise<string[]>, timeoutMs = 15_000): Promise<{ stored: string[]; owned: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [stored, want] = [await probe(), await expected()];
    if (JSON.stringify(stored) === JSON.stringify(want) || Date.now() > deadline) return { stored, owned: want };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.each(['redis', 'fs'] as const)('spool entries and their owners, %s spool', (backend) => {
  let h: Harness;
  let spoolDir: string;
  beforeAll(async () => {
    spoolDir = await mkdtemp(join(tmpdir(), 'mailway-owners-'));
    h = await startDelivery({
      env: { MAILWAY_FAILED_RETENTION: `${retentionMs}ms`, MAILWAY_SPOOL: backend, MAILWAY_SPOOL_DIR: spoolDir, MAILWAY_SPOOL_SWEEP_INTERVAL: '1s' },
    });
  });
  afterAll(async () => {
    await h.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  /** The ids that have anything stored: Redis keys, or entry directories. */
  async function stored(): Promise<string[]> {
    if (backend === 'fs') return (await readdir(spoolDir)).filter((name) => !name.startsWith('.')).sort();
    const keys = await h.redis.keys(`${h.config.redis.prefix}spool:*`);
    return [...new Set(keys.map((key) => key.slice(key.indexOf('{') + 1, key.indexOf('}'))))].sort();
  }

  it('keeps exactly the content of live and kept jobs, and lets the rest go', async () => {
    const queues = [h.delivery, h.transfer];
    // NOTIFY=NEVER throughout: failure notices would add spool entries of their own, which are
    // not the subject here (bounce.test.ts covers them).
    const quiet = { notify: 'NEVER' as const };

    // Delivered: released at once, as before.
    const delivered = await h.enqueue(message('delivered'), ['bob@example.org'], quiet);
    // Failed for good: an unknown user; over quota on the last attempt.
    const unknown = await h.enqueue(message('unknown'), ['nobody@example.org'], { attempts: 5, ...quiet });
    const overQuota = await h.enqueue(message('big', `${'x'.repeat(2000)}\r\n`), ['carol@example.org'], { attempts: 1, ...quiet });
    // Failed, then deleted by an operator.
    const deleted = await h.enqueue(message('deleted'), ['ghost@example.org'], quiet);
    // One recipient delivered, one failed.
    const mixed = await h.enqueue(message('mixed'), ['bob@example.org', 'nobody@example.org'], quiet);
    // An alias whose targets wait on `transfer` (no relay runs here): live, whatever else fails.
    const waiting = await h.enqueue(message('alias'), ['team@example.org', 'nobody@example.org'], quiet);
    // Carried in their jobs (small, one local recipient): delivered, and failed for good.
    const carriedDelivered = await h.enqueue(message('carried'), ['bob@example.org'], { carried: true, ...quiet });
    const carriedFailed = await h.enqueue(message('carried, unknown'), ['nobody@example.org'], { carried: true, attempts: 5, ...quiet });

    const states = await Promise.all([delivered, unknown, overQuota, deleted, mixed, waiting, carriedDelivered, carriedFailed].flatMap((m) => m.jobIds).map((id) => h.settle(id)));
    expect(states).toEqual(['completed', 'failed', 'failed', 'failed', 'completed', 'failed', 'completed', 'failed', 'completed', 'failed']);
    await (await h.delivery.queue.getJob(deleted.jobIds[0]!))!.remove();

    // While the failed jobs are kept, so is their content (the deleted job's, until its deadline).
    expect(await stored()).toEqual([unknown, overQuota, deleted, mixed, waiting].map((m) => m.queueId).sort());
    expect(await h.spool.stat(delivered.queueId)).toBeNull();
    for (const m of [unknown, overQuota, mixed]) expect(await h.spool.readAll(m.queueId)).toHaveLength((await h.spool.stat(m.queueId))!.size);

    // Past the retention, one more failure makes BullMQ drop the old failed jobs, as it does.
    await new Promise((resolve) => setTimeout(resolve, retentionMs + 200));
    const later = await h.enqueue(message('later'), ['nobody@example.org'], quiet);
    expect(await h.settle(later.jobIds[0]!)).toBe('failed');
    const droppedByBullmq = (await h.delivery.queue.getJob(unknown.jobIds[0]!)) === undefined;
    // (What BullMQ's removeOnFail does, done once more by hand: a no-op unless it did not.)
    await h.delivery.queue.clean(retentionMs, 1000, 'failed');

    const result = await settleTo(stored, () => owned(queues));
    expect(result.stored).toEqual(result.owned);
    expect(result.stored).toContain(waiting.queueId);
    for (const gone of [unknown, overQuota, deleted, mixed, carriedDelivered, carriedFailed]) expect(result.stored).not.toContain(gone.queueId);
    // The live alias expansion still finds its content, held with no deadline: three targets'
    // references and the failed recipient's, parked.
    expect(await h.spool.stat(waiting.queueId)).toMatchObject({ refs: 4, parked: 1, expiresAt: null });

    // Once the targets are delivered, the parked reference alone no longer keeps it.
    for (const target of ['bob', 'carol', 'dave']) await h.spool.releaseOnce(waiting.queueId, `target-${target}`);
    expect(await h.spool.stat(waiting.queueId)).toBeNull();
    const rest = async () => (await stored()).filter((id) => id !== waiting.queueId);
    expect((await settleTo(stored, rest)).stored).not.toContain(waiting.queueId);
    // The failed jobs' retention came from MAILWAY_FAILED_RETENTION.
    expect(droppedByBullmq).toBe(true);
  }, 90_000);
});
