/**
 * createRedis behind real sentinels (a primary, two replicas, three sentinels): the client finds
 * the primary by name, its writes land on the new primary after the old one is SIGKILLed and
 * after a manual SENTINEL FAILOVER demotes it (READONLY is answered by reconnecting, not passed
 * on), and confirmReplicas says how many replicas hold the writes, or fails when too few do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { type SentinelSetup, startSentinels } from '@mailway/testing/sentinel';
import { createRedis, describeRedis } from './connection.js';
import { ReplicaShortfallError, confirmReplicas } from './replicas.js';
import { waitForRedis } from './wait.js';

let setup: SentinelSetup;
beforeAll(async () => {
  setup = await startSentinels({ replicas: 2 });
}, 60_000);
afterAll(async () => {
  await setup?.close();
});

/** A command-role client through the sentinels. */
function throughSentinels(role: 'command' | 'worker' = 'command'): Redis {
  const redis = createRedis({ url: 'redis://127.0.0.1', sentinels: setup.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), sentinelName: setup.name }, { role, name: 'mailway-test' });
  redis.on('error', () => {});
  return redis;
}

/** Reads `key` from the server on `port` directly. */
async function readOn(port: number, key: string): Promise<string | null> {
  const direct = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  try {
    return await direct.get(key);
  } finally {
    direct.disconnect();
  }
}

/** Writes a counter again and again until `stop` says so; resolves with the writes that failed, by error. */
function keepWriting(redis: Redis, key: string): { stop(): Promise<{ written: number; failures: string[] }> } {
  let running = true;
  let written = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        await redis.set(key, String(written + 1));
        written += 1;
      } catch (error) {
        failures.push((error as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { written, failures };
    },
  };
}

describe('createRedis through Sentinel', () => {
  it('finds the primary by name and says where it looks, without a password', async () => {
    const redis = throughSentinels();
    try {
      await waitForRedis(redis);
      await redis.set('mailway-test:sentinel:hello', 'world');
      expect(await readOn(await setup.primaryPort(), 'mailway-test:sentinel:hello')).toBe('world');
      expect(describeRedis(redis)).toBe(`sentinel://${setup.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',')}/${setup.name}`);
    } finally {
      redis.disconnect();
    }
  });

  it('confirms writes on the replicas with WAIT, and fails when more are asked for than exist', async () => {
    const redis = throughSentinels();
    try {
      await waitForRedis(redis);
      await redis.set('mailway-test:sentinel:wait', '1');
      expect(await confirmReplicas(redis, { replicas: 2, timeoutMs: 2_000 })).toBe(2);
      const error = await confirmReplicas(redis, { replicas: 3, timeoutMs: 200 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicaShortfallError);
      expect(error).toMatchObject({ confirmed: 2, wanted: 3 });
    } finally {
      redis.disconnect();
    }
  });

  it('writes to the new primary after a manual SENTINEL FAILOVER, with no READONLY error passed on', async () => {
    const redis = throughSentinels();
    try {
      await waitForRedis(redis);
      const before = await setup.primaryPort();
      const writer = keepWriting(redis, 'mailway-test:sentinel:manual');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const sentinel = new Redis({ port: setup.sentinelPorts[0], host: '127.0.0.1' });
      await sentinel.call('SENTINEL', 'FAILOVER', setup.name);
      sentinel.disconnect();
      const after = await setup.failedOverFrom(before);
      // Some time on the new primary, then look there for the last write.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const { written, failures } = await writer.stop();
      expect(failures.filter((message) => message.startsWith('READONLY'))).toEqual([]);
      expect(await readOn(after, 'mailway-test:sentinel:manual')).toBe(String(written));
    } finally {
      redis.disconnect();
    }
  }, 30_000);

  it('follows a failover after the primary is SIGKILLed: writes work again on the promoted replica', async () => {
    const redis = throughSentinels();
    try {
      await waitForRedis(redis);
      const before = await setup.primaryPort();
      const writer = keepWriting(redis, 'mailway-test:sentinel:killed');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const killedAt = Date.now();
      await setup.kill(before);
      const after = await setup.failedOverFrom(before);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const { written } = await writer.stop();
      console.log(`sentinel failover after SIGKILL: new primary named in ${Date.now() - killedAt - 1_000} ms or less`);
      expect(after).not.toBe(before);
      expect(await readOn(after, 'mailway-test:sentinel:killed')).toBe(String(written));
      // The killed server comes back as a replica of the new primary.
      await setup.start(before);
    } finally {
      redis.disconnect();
    }
  }, 40_000);
});
