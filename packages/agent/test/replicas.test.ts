/**
 * The skeleton's replica wait on the run's private redis-server, which has no replicas: asked to
 * wait for one, the agent warns at start-up that Redis has fewer, and `confirm` (WAIT) falls
 * short after the timeout with ReplicaShortfallError, timed and counted in its metrics; with no
 * replica wait configured (a single server) `confirm` sends nothing and resolves at once.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReplicaShortfallError } from '@mailway/queue/redis';
import { createLogger, createMetrics } from '@mailway/runtime';
import { captureJsonLines } from '@mailway/testing/logs';
import { createAgentSkeleton } from '../src/index.js';

const redisUrl = process.env.MAILWAY_TEST_REDIS_URL!;

/** A skeleton on the run's Redis with `redis` settings added, its log lines and its metrics. */
function skeletonWith(redis: { waitReplicas?: number; waitTimeout?: number }) {
  const { destination, logs } = captureJsonLines();
  const metrics = createMetrics(`replicas_${randomUUID().slice(0, 8)}`);
  const context = { logger: createLogger({ name: 'replicas-test', level: 'info', destination }), metrics };
  const skeleton = createAgentSkeleton({ name: 'test', hostname: 'mx.test.example', redis: { url: redisUrl, prefix: `mailway-test:${randomUUID()}:`, ...redis }, spool: { backend: 'redis', directory: '' }, failedRetention: 60_000, traceRetention: 60_000 }, context);
  return { skeleton, logs, metrics };
}

describe('the replica wait', () => {
  it('warns at start-up and falls short with ReplicaShortfallError when Redis has fewer replicas than awaited', async () => {
    const { skeleton, logs, metrics } = skeletonWith({ waitReplicas: 1, waitTimeout: 150 });
    try {
      await skeleton.reached();
      expect(skeleton.replicaWait).toEqual({ replicas: 1, timeoutMs: 150 });
      expect(logs).toContainEqual(expect.objectContaining({ level: 'warn', awaited: 1, connected: 0, msg: expect.stringContaining('fewer replicas than each acknowledged write waits for') }));

      await skeleton.redis.set(`${skeleton.prefix}written`, '1');
      const started = Date.now();
      const error = await skeleton.confirm().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicaShortfallError);
      expect(error).toMatchObject({ confirmed: 0, wanted: 1, timeoutMs: 150 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);

      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^mailway_redis_replica_shortfalls_total\{agent="[^"]+"\} 1$/m);
      expect(text).toMatch(/^mailway_redis_replica_wait_seconds_count\{agent="[^"]+"\} 1$/m);
      await skeleton.redis.del(`${skeleton.prefix}written`);
    } finally {
      await skeleton.close();
    }
  });

  it('waits for nothing on a single server with no replica wait set', async () => {
    const { skeleton, logs, metrics } = skeletonWith({});
    try {
      await skeleton.reached();
      expect(skeleton.replicaWait.replicas).toBe(0);
      const started = Date.now();
      await skeleton.confirm();
      expect(Date.now() - started).toBeLessThan(50);
      expect(logs.filter((line) => String(line.msg).includes('replicas'))).toEqual([]);
      expect(await metrics.registry.metrics()).not.toContain('mailway_redis_replica_wait_seconds');
    } finally {
      await skeleton.close();
    }
  });
});
