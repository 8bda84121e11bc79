import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestRedis, startRedis } from '@mailway/vitest-config/redis';
import { redisLeases } from './leases.js';
import { OutboundSessions } from './sessions.js';

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});

afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const options = { leaseMs: 60_000, renewMs: 10_000 };

describe('destination leases in Redis', () => {
  it('grant up to the limit across owners; a lease given back is free at once', async () => {
    const prefix = `${randomUUID()}:`;
    const [a, b] = [redisLeases(client, prefix, options), redisLeases(client, prefix, options)];
    const first = await a.acquire('dest.test', 2);
    const second = await b.acquire('dest.test', 2);
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect(first).not.toBe(second);
    expect(await a.acquire('dest.test', 2)).toBeNull();
    // Another destination has its own slots.
    expect(await a.acquire('other.test', 2)).not.toBeNull();
    await b.release('dest.test', second as string);
    expect(await a.acquire('dest.test', 2)).not.toBeNull();
    a.close();
    b.close();
  });

  it('free a lease that was not renewed once it lapses', async () => {
    const prefix = `${randomUUID()}:`;
    const dead = redisLeases(client, prefix, { leaseMs: 200, renewMs: 60_000 });
    const live = redisLeases(client, prefix, { leaseMs: 200, renewMs: 50 });
    expect(await live.acquire('dest.test', 2)).not.toBeNull();
    expect(await dead.acquire('dest.test', 2)).not.toBeNull();
    expect(await live.acquire('dest.test', 2)).toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The renewed lease still holds its slot; the other's is free.
    expect(await live.acquire('dest.test', 2)).not.toBeNull();
    expect(await live.acquire('dest.test', 2)).toBeNull();
    dead.close();
    live.close();
  });

  it('find a lease that lapsed while held when they renew it, and say so', async () => {
    const prefix = `${randomUUID()}:`;
    const lost: Array<[string, number]> = [];
    // Renewed only after it has lapsed: as when Redis could not be reached for a while.
    const late = redisLeases(client, prefix, { leaseMs: 200, renewMs: 300 }, (destination, count) => lost.push([destination, count]));
    const lease = (await late.acquire('dest.test', 1)) as string;
    expect(late.holds('dest.test', lease)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(late.holds('dest.test', lease)).toBe(false);
    expect(lost).toEqual([['dest.test', 1]]);
    late.close();
  });
});

describe('destination slots over leases', () => {
  const sessions = (prefix: string): OutboundSessions => new OutboundSessions({ perDestination: 2, idleTimeout: 0, maxAge: 1_000, maxMessages: 1 }, undefined, redisLeases(client, prefix, options));

  it('hold the limit across two caches, and a waiting one gets a slot the other gives back', async () => {
    const prefix = `${randomUUID()}:`;
    const [one, two] = [sessions(prefix), sessions(prefix)];
    const held = [await one.slot('dest.test'), await two.slot('dest.test')];
    const granted: string[] = [];
    const third = one.slot('dest.test').then((slot) => (granted.push('third'), slot));
    const fourth = two.slot('dest.test').then((slot) => (granted.push('fourth'), slot));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(granted).toEqual([]);
    expect(one.waiting('dest.test') + two.waiting('dest.test')).toBe(2);

    // Given back by the other cache: the waiting one asks again and gets it.
    held[1]?.release();
    await Promise.race([third, fourth]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(granted).toHaveLength(1);
    expect(await client.zcard(`${prefix}outbound:slots:dest.test`)).toBe(2);
    held[0]?.release();
    const slots = await Promise.all([third, fourth]);
    expect(granted.sort()).toEqual(['fourth', 'third']);
    for (const slot of slots) slot.release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await client.zcard(`${prefix}outbound:slots:dest.test`)).toBe(0);
    await Promise.all([one.close(), two.close()]);
  });

  it('pass on a lease still held, never one found lapsed', async () => {
    const prefix = `${randomUUID()}:`;
    const cache = new OutboundSessions({ perDestination: 1, idleTimeout: 0, maxAge: 1_000, maxMessages: 1 }, undefined, redisLeases(client, prefix, { leaseMs: 200, renewMs: 300 }));
    const first = await cache.slot('dest.test');
    const second = cache.slot('dest.test');
    await new Promise((resolve) => setTimeout(resolve, 400));
    // The first slot's lease lapsed: the next attempt takes a lease of its own, counted in Redis.
    first.release();
    const slot = await second;
    expect(await client.zcard(`${prefix}outbound:slots:dest.test`)).toBe(1);
    slot.release();
    await cache.close();
  });

  it('keep arrival order within a cache', async () => {
    const cache = sessions(`${randomUUID()}:`);
    const order: number[] = [];
    const slots = await Promise.all([0, 1].map((n) => cache.slot('dest.test').then((slot) => (order.push(n), slot))));
    const waiting = [2, 3, 4].map((n) => cache.slot('dest.test').then((slot) => (order.push(n), slot)));
    for (const slot of slots) slot.release();
    const next = await Promise.all(waiting.slice(0, 2));
    for (const slot of next) slot.release();
    (await (waiting[2] as Promise<{ release(): void }>)).release();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    await cache.close();
  });
});
