/**
 * The crash test: 2,000 delivery jobs while the delivery agent, as its own process, is killed
 * with SIGKILL several times at random moments and restarted. Afterwards every message is in
 * its recipient's Maildir exactly once, no job failed, and every spool entry is gone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createDirectory } from '@mailway/directory';
import { type DeliveryJob, newQueueId } from '@mailway/queue/jobs';
import { bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createRedisSpool } from '@mailway/queue/spool';
import { testEnv } from './support/harness.js';

const appDir = dirname(dirname(fileURLToPath(import.meta.url)));
const redisUrl = process.env.MAILWAY_TEST_REDIS_URL!;
const prefix = `mailway-test:${randomUUID()}:`;
const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
const queue = createMailQueue('delivery', redis, { prefix: bullPrefix(prefix) });
const spool = createRedisSpool(redis, { prefix });
const messages = 2000;
const users = 20;
let root = '';
let child: ChildProcess | null = null;

afterAll(async () => {
  child?.kill('SIGKILL');
  await queue.close();
  for (const pattern of [`${prefix}*`, `${bullPrefix(prefix)}:*`]) {
    const keys = await redis.keys(pattern);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
  if (root !== '') await rm(root, { recursive: true, force: true });
});

/** Starts the agent process; resolves once it logged `started`. */
async function startAgent(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'], {
    cwd: appDir,
    env: {
      ...process.env,
      ...testEnv(redisUrl, prefix, root),
      LOG_LEVEL: 'info',
      DELIVERY_CONCURRENCY: '16',
      DELIVERY_LOCK_DURATION: '1000',
      DELIVERY_STALLED_INTERVAL: '500',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (chunk: Buffer) => {
      if (seen.length < 100_000) seen += chunk.toString('utf8');
      if (seen.includes('"msg":"started"')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`delivery agent exited with ${code} before starting: ${seen.slice(0, 2000)}`)));
  });
  return proc;
}

const delivered = async (): Promise<number> => (await queue.queue.getJobCounts('completed')).completed ?? 0;

it('delivers 2,000 messages exactly once through several SIGKILLs', { timeout: 120_000 }, async () => {
  root = await mkdtemp(join(tmpdir(), 'mailway-crash-'));
  const directory = createDirectory(redis, { prefix });
  await directory.addDomain('example.org');
  for (let u = 0; u < users; u += 1) await directory.addUser(`user${u}@example.org`, 'secret');

  // The relay's side: spool each message, queue its delivery job.
  const receivedAt = new Date().toISOString();
  for (let start = 0; start < messages; start += 200) {
    await Promise.all(
      Array.from({ length: 200 }, async (_, offset) => {
        const n = start + offset;
        const queueId = newQueueId();
        const content = Buffer.from(`Subject: message ${n}\r\nX-Number: ${n}\r\n\r\n${'body line\r\n'.repeat(n % 50)}`);
        await spool.write(queueId, content, { refs: 1 });
        await spool.claim(queueId);
        const job: DeliveryJob = {
          queueId,
          spoolId: queueId,
          size: content.length,
          messageId: null,
          from: 'sender@remote.example',
          recipient: { address: `user${n % users}@example.org`, notify: null, orcpt: null },
          origin: { agent: 'relay', client: null, user: null, tls: null, receivedAt },
        };
        await queue.add(job);
      }),
    );
  }

  // Kill it at random moments while it works (after every 250 or so deliveries), then let it finish.
  let kills = 0;
  for (let round = 0; round < 5; round += 1) {
    child = await startAgent();
    const target = (round + 1) * 250 + Math.floor(Math.random() * 100);
    while ((await delivered()) < target) await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    child.kill('SIGKILL');
    await once(child, 'exit');
    kills += 1;
  }
  const before = await delivered();
  child = await startAgent();
  while ((await delivered()) < messages) {
    const counts = await queue.queue.getJobCounts('failed');
    if ((counts.failed ?? 0) > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGTERM');
  await once(child, 'exit');
  child = null;

  // The kills landed while work was in flight, not before or after it.
  expect(kills).toBe(5);
  expect(before).toBeGreaterThan(0);
  expect(before).toBeLessThan(messages);
  expect(await queue.queue.getJobCounts('completed', 'failed')).toEqual({ completed: messages, failed: 0 });

  // Every message exactly once, in the right mailbox.
  const seen = new Map<number, number>();
  for (let u = 0; u < users; u += 1) {
    const dir = join(root, 'example.org', `user${u}`, 'Maildir', 'new');
    for (const name of await readdir(dir)) {
      const text = await readFile(join(dir, name), 'latin1');
      const n = Number(/X-Number: (\d+)/.exec(text)?.[1]);
      expect(n % users).toBe(u);
      expect(text.startsWith(`Return-Path: <sender@remote.example>\r\nDelivered-To: user${u}@example.org\r\nSubject: message ${n}\r\n`)).toBe(true);
      seen.set(n, (seen.get(n) ?? 0) + 1);
    }
  }
  expect(seen.size).toBe(messages);
  expect([...seen.values()].every((count) => count === 1)).toBe(true);

  // And the spool is empty: every reference released exactly once.
  expect(await redis.keys(`${prefix}spool:*`)).toEqual([]);
});
