/**
 * The trace record against a real Redis: events come back in the order they were written,
 * from several writers, with their fields; the record keeps only its newest events, expires
 * after the retention from its latest event, takes about its own size in Redis's memory, and
 * a write to a Redis that refuses it is reported, never thrown. A record an earlier version
 * wrote as a stream is still read.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newQueueId } from '../jobs/ids.js';
import { createRedis } from '../redis/connection.js';
import { waitForRedis } from '../redis/wait.js';
import { createTraceLog, streamTraceKey, traceKey } from './log.js';

const prefix = `mailway-test:${randomUUID()}:`;
let redis: Redis;
let other: Redis;

beforeAll(async () => {
  redis = createRedis(process.env.MAILWAY_TEST_REDIS_URL!, { role: 'command' });
  other = createRedis(process.env.MAILWAY_TEST_REDIS_URL!, { role: 'command' });
  await Promise.all([waitForRedis(redis), waitForRedis(other)]);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  other.disconnect();
});

describe('the trace record', () => {
  it('gives back every writer’s events in the order Redis took them, and expires after the retention', async () => {
    const queueId = newQueueId();
    const submission = createTraceLog(redis, { prefix, retentionMs: 60_000 });
    const relay = createTraceLog(other, { prefix, retentionMs: 120_000 });
    submission.record(queueId, { type: 'accepted', agent: 'submission', client: '192.0.2.7', tls: 'TLSv1.3', user: 'alice', from: 'alice@example.org', recipients: ['bob@example.net'] });
    await submission.flush();
    relay.record(queueId, { type: 'routed', agent: 'relay', recipient: 'bob@example.net', route: 'example.net' }, { type: 'deferred', agent: 'relay', recipient: 'bob@example.net', remote: 'mx1.example.net', reply: '451 4.7.1 Try again later', tls: null, attempt: 1 });
    await relay.flush();

    const entries = await submission.read(queueId);
    expect(entries.map((e) => e.event.type)).toEqual(['accepted', 'routed', 'deferred']);
    expect(entries[0]!.event).toMatchObject({ agent: 'submission', client: '192.0.2.7', tls: 'TLSv1.3', user: 'alice' });
    expect(entries[2]!.event).toMatchObject({ remote: 'mx1.example.net', reply: '451 4.7.1 Try again later', attempt: 1 });
    expect(entries[0]!.storedAt).toBeLessThanOrEqual(entries[2]!.storedAt);
    // The latest writer's retention counts from its event.
    const ttl = await redis.pttl(traceKey(prefix, queueId));
    expect(ttl).toBeGreaterThan(60_000);
    expect(ttl).toBeLessThanOrEqual(120_000);
  });

  it('keeps only the newest events past its cap', async () => {
    const queueId = newQueueId();
    const trace = createTraceLog(redis, { prefix, retentionMs: 60_000, maxEvents: 3 });
    for (let i = 1; i <= 5; i += 1) trace.record(queueId, { type: 'deferred', agent: 'relay', recipient: 'bob@example.net', attempt: i });
    await trace.flush();
    expect((await trace.read(queueId)).map((e) => e.event.attempt)).toEqual([3, 4, 5]);
  });

  it('has no record for a message never traced, and is gone once its retention has passed', async () => {
    const queueId = newQueueId();
    const trace = createTraceLog(redis, { prefix, retentionMs: 50 });
    expect(await trace.read(queueId)).toEqual([]);
    trace.record(queueId, { type: 'accepted', agent: 'relay' });
    await trace.flush();
    expect(await trace.read(queueId)).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await trace.read(queueId)).toEqual([]);
    expect(await redis.exists(traceKey(prefix, queueId))).toBe(0);
  });

  it('reports a write Redis refuses, and never throws', async () => {
    const queueId = newQueueId();
    const errors: unknown[] = [];
    // A key of another type where the record would be: Redis refuses RPUSH (WRONGTYPE).
    await redis.set(traceKey(prefix, queueId), 'not a list');
    const trace = createTraceLog(redis, { prefix, retentionMs: 60_000, onError: (error) => errors.push(error) });
    expect(() => trace.record(queueId, { type: 'accepted', agent: 'relay' })).not.toThrow();
    await trace.flush();
    expect(String(errors[0])).toContain('WRONGTYPE');
  });

  it('takes about its own size in memory: a message\'s usual three events in well under 1 KiB', async () => {
    const queueId = newQueueId();
    const trace = createTraceLog(redis, { prefix, retentionMs: 60_000 });
    trace.record(queueId, { type: 'accepted', agent: 'relay', client: '192.0.2.7', helo: 'mx.example.net', tls: null, user: null, from: 'alice@example.net', recipients: ['bob@example.org'], size: 2048, messageId: '<a.1@example.net>' }, { type: 'routed', agent: 'relay', recipient: 'bob@example.org', route: 'local' });
    trace.record(queueId, { type: 'delivered', agent: 'delivery', recipient: 'bob@example.org', mailbox: 'bob@example.org' });
    await trace.flush();
    const content = (await redis.lrange(traceKey(prefix, queueId), 0, -1)).reduce((sum, json) => sum + json.length, 0);
    const used = Number(await redis.call('MEMORY', 'USAGE', traceKey(prefix, queueId)));
    // A stream of the same events takes its 4 KiB node whatever they hold.
    expect(used).toBeLessThan(content + 256);
    expect(used).toBeLessThan(1024);
  });

  it('still reads a record an earlier version wrote as a stream', async () => {
    const queueId = newQueueId();
    await redis.xadd(streamTraceKey(prefix, queueId), '*', 'e', JSON.stringify({ type: 'accepted', agent: 'relay', at: new Date().toISOString() }));
    const entries = await createTraceLog(redis, { prefix, retentionMs: 60_000 }).read(queueId);
    expect(entries.map((e) => [e.event.type, e.event.agent])).toEqual([['accepted', 'relay']]);
  });
});
