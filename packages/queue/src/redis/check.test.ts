import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { startRedis } from '@mailway/vitest-config/redis';
import { checkRedis, RedisSetupError } from './check.js';
import { createRedis } from './connection.js';
import { waitForRedis } from './wait.js';

type Server = Awaited<ReturnType<typeof startRedis>>;

let dir: string;
beforeAll(async () => {
  // AOF files go here, never into the working directory.
  dir = await mkdtemp(join(tmpdir(), 'mailway-redis-check-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `body` against a private redis-server started with `args`, then stops it. */
async function withServer(args: string[], body: (server: Server) => Promise<void>): Promise<void> {
  const server = await startRedis({ extraArgs: ['--dir', dir, ...args] });
  try {
    await body(server);
  } finally {
    await server.stop();
  }
}

/** checkRedis over a fresh client for `url`. */
async function check(url: string): Promise<Awaited<ReturnType<typeof checkRedis>>> {
  const redis = createRedis(url);
  try {
    await waitForRedis(redis);
    return await checkRedis(redis);
  } finally {
    redis.disconnect();
  }
}

describe('checkRedis', () => {
  it('passes noeviction with AOF and appendfsync always, without warnings', async () => {
    await withServer(['--appendonly', 'yes', '--appendfsync', 'always', '--appendfilename', 'always.aof'], async ({ url }) => {
      const facts = await check(url);
      expect(facts).toMatchObject({ maxmemoryPolicy: 'noeviction', aof: true, appendfsync: 'always', warnings: [] });
      expect(facts.version).toMatch(/^\d+\.\d+/);
    });
  });

  it('refuses an evicting Redis, naming the policy and the fix', async () => {
    await withServer(['--maxmemory-policy', 'allkeys-lru'], async ({ url }) => {
      const error = await check(url).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisSetupError);
      expect((error as Error).message).toMatch(/maxmemory-policy is allkeys-lru.*CONFIG SET maxmemory-policy noeviction/);
    });
  });

  it('warns when AOF is off', async () => {
    await withServer([], async ({ url }) => {
      const facts = await check(url);
      expect(facts.aof).toBe(false);
      expect(facts.warnings).toHaveLength(1);
      expect(facts.warnings[0]).toMatch(/AOF is off/);
    });
  });

  it('warns when appendfsync is everysec', async () => {
    await withServer(['--appendonly', 'yes', '--appendfsync', 'everysec', '--appendfilename', 'everysec.aof'], async ({ url }) => {
      const facts = await check(url);
      expect(facts).toMatchObject({ aof: true, appendfsync: 'everysec' });
      expect(facts.warnings).toEqual([expect.stringMatching(/appendfsync is everysec.*CONFIG SET appendfsync always/)]);
    });
  });

  it('falls back to INFO when CONFIG is denied, and says so', async () => {
    await withServer(['--maxmemory-policy', 'volatile-ttl'], async ({ url, port }) => {
      // A managed-Redis style user: everything but CONFIG.
      const admin = createRedis(url);
      await waitForRedis(admin);
      await admin.call('ACL', 'SETUSER', 'agent', 'on', '>agent-password', '~*', '&*', '+@all', '-config');
      admin.disconnect();

      const restricted = `redis://agent:agent-password@127.0.0.1:${port}`;
      const error = await check(restricted).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisSetupError);
      expect((error as Error).message).toContain('maxmemory-policy is volatile-ttl');

      const ok = createRedis(restricted);
      try {
        await waitForRedis(ok);
        await ok.call('ACL', 'WHOAMI'); // still usable for everything else
        const admin2 = createRedis(url);
        await waitForRedis(admin2);
        await admin2.config('SET', 'maxmemory-policy', 'noeviction');
        admin2.disconnect();
        const facts = await checkRedis(ok);
        expect(facts).toMatchObject({ maxmemoryPolicy: 'noeviction', aof: false, appendfsync: null });
        expect(facts.warnings).toEqual([expect.stringMatching(/CONFIG is not available/), expect.stringMatching(/AOF is off/)]);
      } finally {
        ok.disconnect();
      }
    });
  });
});
