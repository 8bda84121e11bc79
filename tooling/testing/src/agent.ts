/**
 * What every in-process agent harness starts from: the Redis URL (one the test gives, or the
 * run's redis-server), a key prefix of the agent's own, a stream for the agent's logger with
 * the JSON lines written to it, and a Redis client for the test to look with. `drop` deletes
 * every key under the prefix (the agent's and BullMQ's) and disconnects that client.
 * `agentForTests` keeps an agent for all the tests of a file or block, `forThisTest` for one test.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { heldForTests } from './held.js';
import { captureJsonLines } from './logs.js';
import { dropKeys } from './redis.js';

/** The handles every agent harness gives its tests. */
export interface AgentHandles {
  readonly redis: Redis;
  readonly prefix: string;
  /** Log records written so far. */
  readonly logs: Record<string, unknown>[];
}

export interface AgentBase {
  readonly handles: AgentHandles;
  /** REDIS_URL and MAILWAY_REDIS_PREFIX, for the agent's configuration. */
  readonly env: { readonly REDIS_URL: string; readonly MAILWAY_REDIS_PREFIX: string };
  /** The logger's destination. */
  readonly destination: Writable;
  drop(): Promise<void>;
}

/** A prefix, a log capture and a Redis client for one agent; `redisUrl` defaults to the run's redis-server. */
export function agentBase(redisUrl = process.env.MAILWAY_TEST_REDIS_URL): AgentBase {
  if (!redisUrl) throw new Error('MAILWAY_TEST_REDIS_URL is not set (the vitest globalSetup starts redis-server)');
  const prefix = `mailway-test:${randomUUID()}:`;
  const { destination, logs } = captureJsonLines();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {}); // a test may stop Redis on purpose
  return {
    handles: { redis, prefix, logs },
    env: { REDIS_URL: redisUrl, MAILWAY_REDIS_PREFIX: prefix },
    destination,
    async drop() {
      await dropKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

/** `start()`'s agent for the tests of this file or block: started before them, closed after. Read `current` inside the tests. */
export function agentForTests<H extends { close(): Promise<void> }>(start: () => Promise<H>): { readonly current: H } {
  return heldForTests('the agent', start, (agent) => agent.close());
}

/** The agent `starting` gives, closed when the test that started it ends (a test that needs an agent of its own, configured its own way). */
export async function forThisTest<H extends { close(): Promise<void> }>(starting: Promise<H>): Promise<H> {
  const agent = await starting;
  onTestFinished(() => agent.close());
  return agent;
}
