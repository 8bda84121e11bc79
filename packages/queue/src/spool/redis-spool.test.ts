import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import type { Redis } from 'ioredis';
import { createRedis } from '../redis/connection.js';
import { waitForRedis } from '../redis/wait.js';
import { createRedisSpool } from './redis-spool.js';
import { describeSpool, patterned, pieces } from './spool.case.js';

const url = process.env.MAILWAY_TEST_REDIS_URL!;

/** Every key under `prefix`. */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 1000 })) keys.push(...(batch as string[]));
  return keys.sort();
}

describeSpool('redis', async () => {
  const redis = createRedis(url);
  await waitForRedis(redis);
  const prefix = `mailway-test:${randomUUID()}:`;
  return {
    spool: createRedisSpool(redis, { prefix }), // the default chunk size, 256 KiB
    chunkSize: 256 * 1024,
    async leftovers() {
      // A temporary key that is still there must at least be expiring.
      const tmp = (await keysUnder(redis, prefix)).filter((key) => key.includes(':tmp:'));
      const ttls = await Promise.all(tmp.map((key) => redis.pttl(key)));
      return tmp.filter((_, i) => (ttls[i] ?? -1) < 0);
    },
    async stored() {
      const ids = (await keysUnder(redis, `${prefix}spool:`)).map((key) => key.slice(key.indexOf('{') + 1, key.indexOf('}')));
      return [...new Set(ids)].sort();
    },
    async close() {
      const keys = await keysUnder(redis, prefix);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
});

describe('redis spool', () => {
  let redis: Redis;
  const prefix = `mailway-test:${randomUUID()}:`;
  const chunkSize = 1024;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    redis = createRedis(url);
    await waitForRedis(redis);
  });
  afterAll(async () => {
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps one entry under one hash tag: meta hash, data list of chunks', async () => {
    const spool = createRedisSpool(redis, { prefix, chunkSize });
    const id = randomUUID();
    const bytes = patterned(chunkSize * 2 + 10);
    await spool.write(id, pieces(bytes), { refs: 2 });
    await spool.releaseOnce(id, 'job-1');
    const base = `${prefix}spool:{${id}}:`;
    expect(await keysUnder(redis, base)).toEqual([`${base}data`, `${base}meta`, `${base}released`]);
    expect(await redis.hgetall(`${base}meta`)).toMatchObject({ size: String(bytes.length), refs: '1', claimed: '0' });
    expect(await redis.llen(`${base}data`)).toBe(3);
    expect(await redis.lindexBuffer(`${base}data`, 2)).toEqual(bytes.subarray(chunkSize * 2));
    // Unclaimed: everything expires together.
    for (const key of ['meta', 'data', 'released']) expect(await redis.pttl(`${base}${key}`)).toBeGreaterThan(0);
  });

  it('expires an unclaimed entry after ttlMs, whether small or streamed', async () => {
    const spool = createRedisSpool(redis, { prefix, chunkSize });
    const small = randomUUID();
    const large = randomUUID();
    await spool.write(small, Buffer.from('orphan'), { refs: 1, ttlMs: 50 });
    await spool.write(large, pieces(patterned(chunkSize * 3)), { refs: 1, ttlMs: 50 });
    await sleep(120);
    expect(await spool.stat(small)).toBeNull();
    expect(await spool.stat(large)).toBeNull();
    expect(await keysUnder(redis, `${prefix}spool:{${large}}`)).toEqual([]);
  });

  it('claim() stops the expiry', async () => {
    const spool = createRedisSpool(redis, { prefix, chunkSize });
    const id = randomUUID();
    const bytes = patterned(chunkSize * 2);
    await spool.write(id, bytes, { refs: 2, ttlMs: 50 });
    await spool.releaseOnce(id, 'job-1');
    await spool.claim(id);
    await sleep(120);
    expect(await spool.stat(id)).toMatchObject({ claimed: true, refs: 1 });
    expect((await spool.readAll(id)).equals(bytes)).toBe(true);
    const base = `${prefix}spool:{${id}}:`;
    for (const key of ['meta', 'data', 'released']) expect(await redis.pttl(`${base}${key}`)).toBe(-1);
    // The token set survived too: a retried job still cannot release twice.
    expect(await spool.releaseOnce(id, 'job-1')).toBe(1);
  });

  it('parking every reference sets one deadline on all three keys; a live reference lifts it', async () => {
    const spool = createRedisSpool(redis, { prefix, chunkSize });
    const id = randomUUID();
    await spool.write(id, patterned(chunkSize * 2), { refs: 2 });
    await spool.claim(id);
    await spool.releaseOnce(id, 'delivered');
    const until = Date.now() + 60_000;
    await spool.park(id, 'failed', new Date(until));
    const base = `${prefix}spool:{${id}}:`;
    for (const key of ['meta', 'data', 'released']) expect(await redis.pexpiretime(`${base}${key}`)).toBe(until);
    await spool.unpark(id, 'failed');
    for (const key of ['meta', 'data', 'released']) expect(await redis.pttl(`${base}${key}`)).toBe(-1);
  });

  it('streams into an expiring temporary key, so a crashed writer leaves nothing for good', async () => {
    const spool = createRedisSpool(redis, { prefix, chunkSize });
    const id = randomUUID();
    const seen: number[] = [];
    async function* source(): AsyncGenerator<Uint8Array> {
      yield patterned(chunkSize * 3);
      // The writer is mid-stream now: its data is only under the temporary key.
      const keys = await keysUnder(redis, `${prefix}spool:{${id}}:`);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/:tmp:[0-9a-f]{16}$/);
      seen.push(await redis.pttl(keys[0]!));
      yield patterned(10);
    }
    await spool.write(id, source(), { refs: 1 });
    expect(seen[0]).toBeGreaterThan(0);
    expect(await spool.stat(id)).toMatchObject({ size: chunkSize * 3 + 10 });
  });

  it('reads chunk by chunk, never the whole list at once', async () => {
    const spool = createRedisSpool(redis, { prefix, chunkSize });
    const id = randomUUID();
    await spool.write(id, patterned(chunkSize * 4 + 1), { refs: 1 });
    const sizes: number[] = [];
    for await (const chunk of spool.read(id)) sizes.push(chunk.length);
    expect(sizes).toEqual([chunkSize, chunkSize, chunkSize, chunkSize, 1]);
  });

  it('shares its scripts between spools on one connection', async () => {
    const other = `mailway-test:${randomUUID()}:`;
    const a = createRedisSpool(redis, { prefix, chunkSize });
    const b = createRedisSpool(redis, { prefix: other, chunkSize });
    const id = randomUUID();
    await a.write(id, Buffer.from('a'), { refs: 1 });
    await b.write(id, Buffer.from('b'), { refs: 1 });
    expect(await a.readAll(id)).toEqual(Buffer.from('a'));
    expect(await b.readAll(id)).toEqual(Buffer.from('b'));
    await b.remove(id);
  });
});
