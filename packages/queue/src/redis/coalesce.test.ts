import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Cluster, Redis } from 'ioredis';
import { startRedisCluster } from '@mailway/testing/cluster';
import { coalesceWrites } from './coalesce.js';
import { createRedis } from './connection.js';
import { waitForRedis } from './wait.js';

const url = process.env.MAILWAY_TEST_REDIS_URL!;
const clients: Redis[] = [];

afterEach(() => {
  for (const redis of clients.splice(0)) redis.disconnect();
});

async function connected(redis: Redis): Promise<Redis> {
  clients.push(redis);
  await waitForRedis(redis);
  return redis;
}

/** How many times the client's current socket hands data to the kernel while `run` runs. */
async function socketWrites(redis: Redis, run: () => Promise<unknown>): Promise<number> {
  type Hand = (this: Socket, ...args: unknown[]) => void;
  const socket = (redis as unknown as { stream: Socket & { _write: Hand; _writev: Hand } }).stream;
  let writes = 0;
  const { _write, _writev } = socket;
  socket._write = function (...args) {
    writes += 1;
    _write.apply(this, args);
  };
  socket._writev = function (...args) {
    writes += 1;
    _writev.apply(this, args);
  };
  try {
    await run();
  } finally {
    socket._write = _write;
    socket._writev = _writev;
  }
  return writes;
}

/** 50 commands sent in one tick, whose replies must come back in order. */
async function fifty(redis: Redis, key: string): Promise<void> {
  const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => redis.rpush(key, String(i))));
  expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(await redis.lrange(key, 0, -1)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
  await redis.del(key);
}

describe('coalesceWrites', () => {
  it('sends the commands of one tick in one write, in order', async () => {
    const plain = await connected(new Redis(url));
    const coalesced = await connected(new Redis(url));
    coalesceWrites(coalesced);
    const key = `mailway-test:coalesce:${randomUUID()}`;
    // Without it, ioredis writes each command on its own (the check that the count can fail).
    expect(await socketWrites(plain, () => fifty(plain, `${key}:plain`))).toBeGreaterThanOrEqual(50);
    // Three ticks: the 50 commands, then LRANGE, then DEL.
    expect(await socketWrites(coalesced, () => fifty(coalesced, key))).toBe(3);
  });

  it('keeps coalescing on the socket of a reconnected client, and createRedis applies it', async () => {
    const redis = await connected(createRedis(url));
    const key = `mailway-test:coalesce:${randomUUID()}`;
    expect(await socketWrites(redis, () => fifty(redis, key))).toBe(3);
    const before = (redis as unknown as { stream: Socket }).stream;
    const ready = once(redis, 'ready');
    redis.disconnect(true);
    await ready;
    expect((redis as unknown as { stream: Socket }).stream).not.toBe(before);
    expect(await socketWrites(redis, () => fifty(redis, key))).toBe(3);
  });

  it('coalesces on the connection to each node of a cluster', async () => {
    const cluster = await startRedisCluster();
    try {
      const ports = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
      const redis = await connected(createRedis({ url: 'redis://127.0.0.1', clusterNodes: ports }));
      // One hash tag: every command goes to the node that serves its slot.
      const key = `mailway-test:{coalesce}:${randomUUID()}`;
      const slot = Number(await redis.cluster('KEYSLOT', key));
      const owner = (redis as unknown as { slots: string[][] }).slots[slot]?.[0];
      const serving = (redis as unknown as Cluster).nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
      expect(serving).toBeDefined();
      // The client connects to a node on first use.
      await serving!.ping();
      // The client's own slot refreshes may add a write now and then; without coalescing it is 52.
      expect(await socketWrites(serving!, () => fifty(redis, `${key}:list`))).toBeLessThanOrEqual(4);
    } finally {
      await cluster.close();
    }
  });
});
