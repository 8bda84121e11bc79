/**
 * Redis goes away in the middle of a message: the reply to end of data is 451 4.3.0, and once
 * Redis is back (from its append-only file) there is no job and no spooled content; the next
 * message is accepted again. Also: the agent refuses to start on a Redis that may evict keys.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '@mailway/vitest-config/redis';
import { createLogger, createMetrics } from '@mailway/runtime';
import { createSubmissionAgent, loadSubmissionConfig } from '../src/index.js';
import { Dialog } from '@mailway/testing/dialog';
import { type Harness, alice, message, startSubmission } from './support/harness.js';

/** A redis-server with AOF `appendfsync always` on a fixed port and data folder, restartable. */
class DurableRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number, readonly dir: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    this.child = child;
    for (let i = 0; i < 200; i += 1) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    throw new Error('redis-server did not start');
  }

  /** SIGKILL: no chance to write anything more. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

describe('Redis killed during DATA', () => {
  let redis: DurableRedis;
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailway-redis-'));
    // Borrow a free port from a throwaway server.
    const probe = await startRedis();
    const port = probe.port;
    await probe.stop();
    redis = new DurableRedis(port, dir);
    await redis.start();
    h = await startSubmission({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await h.close().catch(() => {});
    await redis.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 451 4.3.0, leaves no job and no content, and recovers', async () => {
    const { dialog } = await Dialog.open(h.agent.ports.implicitTls, { tls: true });
    await dialog.command('EHLO client.example');
    expect((await dialog.authPlain(alice.user, alice.pass)).code).toBe(235);
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.command('DATA')).code).toBe(354);
    dialog.write('From: alice@example.org\r\nTo: carol@remote.example\r\nSubject: doomed\r\n\r\n');
    dialog.write(`${'x'.repeat(500)}\r\n`.repeat(100));

    // Redis dies before the end of the data.
    await redis.kill();
    dialog.write('last line\r\n.\r\n');
    expect((await dialog.reply()).status).toBe('451 4.3.0');

    // Back from its append-only file: nothing of that message is there.
    await redis.start();
    await waitUntil(() => h.agent.ready());
    expect(await h.jobs()).toEqual([]);
    expect(await h.redis.keys(`${h.prefix}spool:*`)).toEqual([]);

    // The same session can submit again.
    expect((await dialog.command('MAIL FROM:<alice@example.org>')).code).toBe(250);
    expect((await dialog.command('RCPT TO:<carol@remote.example>')).code).toBe(250);
    expect((await dialog.data(message())).status).toBe('250 2.0.0');
    expect(await h.jobs()).toHaveLength(1);
    await dialog.close();
    expect(h.logs.some((l) => l.msg === 'message not queued')).toBe(true);
  });
});

describe('start-up checks', () => {
  it('refuses to start on a Redis whose maxmemory-policy can evict queued mail', async () => {
    const lru = await startRedis({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
    try {
      const config = loadSubmissionConfig({ env: { REDIS_URL: lru.url, SUBMISSION_PORT: '0', SUBMISSION_TLS_PORT: '0', SUBMISSION_HOST: '127.0.0.1' }, file: null });
      const context = { logger: createLogger({ name: 'submission', level: 'silent' }), metrics: createMetrics('submission') };
      await expect(createSubmissionAgent(config, context)).rejects.toThrow(/noeviction/);
    } finally {
      await lru.stop();
    }
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
