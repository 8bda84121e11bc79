/**
 * Redis that a test takes away: a redis-server of a describe block's own that may be killed
 * and started again (append-only, so what it held comes back) with an agent on it, and a
 * redis-server that may evict keys, which an agent must refuse to start on.
 */
import { afterAll, beforeAll } from 'vitest';
import { type DurableRedis, durableRedis, startRedis } from '@mailway/vitest-config/redis';
import type { Dialog, Reply } from './dialog.js';

/**
 * Before the block's tests: a durable redis-server, started, and `start(url)`'s agent on it;
 * after them both are gone. Read `redis` and `agent` inside the tests.
 */
export function agentOnDurableRedis<H extends { close(): Promise<void> }>(start: (redisUrl: string) => Promise<H>): { readonly redis: DurableRedis; readonly agent: H } {
  const held: { redis?: DurableRedis; agent?: H } = {};
  beforeAll(async () => {
    held.redis = await durableRedis();
    await held.redis.start();
    held.agent = await start(held.redis.url);
  });
  afterAll(async () => {
    await held.agent?.close().catch(() => {});
    await held.redis?.remove();
  });
  return {
    get redis() {
      if (held.redis === undefined) throw new Error('read inside a test: the redis-server starts before the block');
      return held.redis;
    },
    get agent() {
      if (held.agent === undefined) throw new Error('read inside a test: the agent starts before the block');
      return held.agent;
    },
  };
}

/**
 * In a DATA the agent has accepted (354): sends `header` and some 50 kB of body, kills `redis`
 * before the end of the data, then ends it. Returns the reply to the final dot.
 */
export async function redisKilledInData(dialog: Dialog, redis: DurableRedis, header: string): Promise<Reply> {
  dialog.write(`${header}\r\n`);
  dialog.write(`${'x'.repeat(500)}\r\n`.repeat(100));
  await redis.kill();
  dialog.write('last line\r\n.\r\n');
  return dialog.reply();
}

/** Runs `use` with the URL of a redis-server whose maxmemory-policy (allkeys-lru) can evict queued mail. */
export async function withEvictingRedis(use: (redisUrl: string) => Promise<void>): Promise<void> {
  const lru = await startRedis({ extraArgs: ['--maxmemory-policy', 'allkeys-lru'] });
  try {
    await use(lru.url);
  } finally {
    await lru.stop();
  }
}
