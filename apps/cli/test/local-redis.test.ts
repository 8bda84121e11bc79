/**
 * The redis-server `mailway start` runs when REDIS_URL is not set: durable (AOF, fsync
 * always), never evicting, its files in the state folder, stopped cleanly; after a SIGKILL it is
 * started again on the same port and data, says so, and has kept what it acknowledged.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort } from '@mailway/vitest-config/redis';
import { startLocalRedis } from '../src/supervisor/redis.js';

describe('local redis-server', () => {
  it('runs with AOF appendfsync always and noeviction, in the state folder', async () => {
    const state = await mkdtemp(join(tmpdir(), 'mailway-state-'));
    const redis = await startLocalRedis(state, await freePort());
    const client = new Redis(redis.url);
    try {
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      await client.set('k', 'v');
    } finally {
      client.disconnect();
      await redis.stop();
    }
    expect(redis.process.exitCode).toBe(0);
    expect((await readdir(join(state, 'redis'))).some((name) => name.startsWith('appendonly'))).toBe(true);
    await rm(state, { recursive: true, force: true });
  });

  it('is restarted after a SIGKILL, with the data it acknowledged, and says so', async () => {
    const state = await mkdtemp(join(tmpdir(), 'mailway-state-'));
    const notices: string[] = [];
    const redis = await startLocalRedis(state, await freePort(), { notice: (text) => notices.push(text), fatal: (text) => notices.push(text) });
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    client.on('error', () => {}); // refused while redis-server is down: expected here
    try {
      await client.set('acknowledged', 'yes');
      const first = redis.process;
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      // The client reconnects to the new one; the key came back from the append-only file.
      expect(await client.get('acknowledged')).toBe('yes');
      expect(redis.process.pid).not.toBe(first.pid);
      expect(notices).toEqual(['redis-server exited (signal SIGKILL); restarting in 250 ms']);
    } finally {
      client.disconnect();
      await redis.stop();
    }
    expect(redis.process.exitCode).toBe(0);
    await rm(state, { recursive: true, force: true });
  });
});
