/**
 * The redis-server `mailway start` runs when REDIS_URL is not set: durable (AOF, fsync
 * always), never evicting, its files in the state folder, stopped cleanly.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startLocalRedis } from '../src/supervisor/redis.js';
import { freePort } from './support/stack.js';


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
});
