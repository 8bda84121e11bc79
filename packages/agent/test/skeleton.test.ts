/**
 * The agent skeleton on the run's private redis-server, behind a real SMTP listener: sessions
 * get 421 4.3.2 until the agent serves; its connections carry the agent's name; it is ready
 * only until stop begins; close() quits both connections.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, createMetrics } from '@mailway/runtime';
import { createServer } from '@mailway/smtp/server';
import { Dialog } from '@mailway/testing/dialog';
import { createAgentSkeleton, portOf, spoolDescriptors } from '../src/index.js';

const redisUrl = process.env.MAILWAY_TEST_REDIS_URL!;
const context = () => ({ logger: createLogger({ name: 'skeleton-test', level: 'silent' }), metrics: createMetrics(`skeleton_${randomUUID().slice(0, 8)}`) });
const options = (spool: { backend: 'redis' | 'fs'; directory: string }) => ({ name: 'test', hostname: 'mx.test.example', redis: { url: redisUrl, prefix: `mailway-test:${randomUUID()}:` }, spool, failedRetention: 60_000, traceRetention: 60_000 });

describe('agent skeleton', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('holds sessions at 421 4.3.2 until the agent serves, then passes them to its hooks', async () => {
    const skeleton = createAgentSkeleton(options({ backend: 'redis', directory: '' }), context());
    const server = createServer({ hostname: 'mx.test.example', hooks: skeleton.gate({}) });
    try {
      const port = portOf(await server.listen({ host: '127.0.0.1', port: 0 }));
      const before = await Dialog.open(port);
      expect(before.greeting.status).toBe('421 4.3.2');
      expect(before.greeting.text).toBe('mx.test.example Service not available, try again later');
      await before.dialog.close();

      await skeleton.reached();
      skeleton.serve();
      const after = await Dialog.open(port);
      expect(after.greeting.code).toBe(220);
      await after.dialog.close();
    } finally {
      await server.close({ timeout: 0 });
      await skeleton.close();
    }
  });

  it('names its connections after the agent, is ready until stop begins, and quits both connections on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mailway-skeleton-'));
    dirs.push(dir);
    const skeleton = createAgentSkeleton({ ...options({ backend: 'fs', directory: dir }), worker: true }, context());
    await skeleton.reached();
    await skeleton.workerRedis.ping();
    expect(await skeleton.redis.client('GETNAME')).toBe('mailway-test');
    expect(await skeleton.workerRedis.client('GETNAME')).toBe('mailway-test-worker');
    expect(skeleton.queueOptions).toEqual({ prefix: skeleton.prefix.slice(0, -1), failedRetentionMs: 60_000 });

    // The filesystem spool it was configured with: content written lands in the directory.
    const id = randomUUID();
    await skeleton.spool.write(id, Buffer.from('Subject: x\r\n\r\nbody\r\n'), { refs: 1 });
    expect(await readdir(dir)).toContain(id);

    expect(skeleton.ready()).toBe(true);
    skeleton.stopping();
    expect(skeleton.ready()).toBe(false);
    await skeleton.close();
    // Quit: ioredis refuses commands as "closed" once the socket has ended, or as not writeable
    // (the fail-fast connection) in the moment between QUIT's reply and the socket's end.
    await expect(skeleton.redis.ping()).rejects.toThrow(/closed|isn't writeable/);
    await expect(skeleton.workerRedis.ping()).rejects.toThrow(/closed|isn't writeable/);
    expect(['close', 'end']).toContain(skeleton.redis.status);
  });

  it('counts one spool descriptor per session on a filesystem spool, none on Redis', () => {
    expect(spoolDescriptors({ backend: 'fs' })).toBe(1);
    expect(spoolDescriptors({ backend: 'redis' })).toBe(0);
  });
});
