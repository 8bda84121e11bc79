/**
 * A submission agent for tests: started in-process on free loopback ports against a real
 * redis-server (the run's own, or one the test gives), with its own key prefix, a seeded
 * directory, captured log lines, and handles to inspect what it queued.
 *
 * Seed: domain example.org; alice@example.org (password "alice-secret", may send as
 * sales@example.org), bob@example.org (password "bob-secret").
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { captureJsonLines } from '@mailway/testing/logs';
import { dropKeys } from '@mailway/testing/redis';
import type { TransferJob } from '@mailway/queue/jobs';
import { createRedisSpool, type Spool } from '@mailway/queue/spool';
import { createLogger, createMetrics, type Metrics } from '@mailway/runtime';
import { bullPrefix } from '@mailway/queue/queues';
import { createSubmissionAgent, loadSubmissionConfig, type SubmissionAgent, type SubmissionConfig } from '../../src/index.js';

export const alice = { user: 'alice@example.org', pass: 'alice-secret' } as const;
export const bob = { user: 'bob@example.org', pass: 'bob-secret' } as const;

export interface Harness {
  readonly agent: SubmissionAgent;
  readonly config: SubmissionConfig;
  readonly metrics: Metrics;
  readonly redis: Redis;
  readonly spool: Spool;
  readonly prefix: string;
  /** Log records written so far. */
  readonly logs: Record<string, unknown>[];
  /** Transfer jobs waiting in the queue, oldest first. */
  jobs(): Promise<TransferJob[]>;
  close(): Promise<void>;
}

/** Start an agent; `env` overrides the test defaults. */
export async function startSubmission(options: { env?: Record<string, string>; redisUrl?: string; seed?: boolean } = {}): Promise<Harness> {
  const redisUrl = options.redisUrl ?? process.env.MAILWAY_TEST_REDIS_URL;
  if (!redisUrl) throw new Error('MAILWAY_TEST_REDIS_URL is not set (the vitest globalSetup starts redis-server)');
  const prefix = `mailway-test:${randomUUID()}:`;
  const config = loadSubmissionConfig({
    env: {
      REDIS_URL: redisUrl,
      MAILWAY_REDIS_PREFIX: prefix,
      MAILWAY_HOSTNAME: 'msa.test.example',
      SUBMISSION_HOST: '127.0.0.1',
      SUBMISSION_PORT: '0',
      SUBMISSION_TLS_PORT: '0',
      SUBMISSION_AUTH_FAILURE_DELAY: '0',
      ...options.env,
    },
    file: null,
  });

  // Capture the JSON log lines.
  const { destination, logs } = captureJsonLines();
  const logger = createLogger({ name: 'submission', level: 'debug', destination });
  const metrics = createMetrics('submission');
  const agent = await createSubmissionAgent(config, { logger, metrics });

  if (options.seed !== false) {
    await agent.directory.addDomain('example.org');
    await agent.directory.addUser(alice.user, alice.pass, { sendAs: ['sales@example.org'] });
    await agent.directory.addUser(bob.user, bob.pass);
  }

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const spool = createRedisSpool(redis, { prefix });
  const queue = new Queue('transfer', { connection: redis, prefix: bullPrefix(prefix) });

  return {
    agent,
    config,
    metrics,
    redis,
    spool,
    prefix,
    logs,
    async jobs() {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active'], 0, -1, true);
      return jobs.map((job) => job.data as TransferJob);
    },
    async close() {
      await agent.stop();
      await queue.close();
      await dropKeys(redis, prefix);
      redis.disconnect();
    },
  };
}

/** A small RFC 5322 message. */
export function message(options: { from?: string; to?: string; subject?: string; extraHeaders?: string; body?: string } = {}): string {
  return [
    `From: ${options.from ?? 'Alice <alice@example.org>'}`,
    `To: ${options.to ?? 'carol@remote.example'}`,
    `Subject: ${options.subject ?? 'hello'}`,
    ...(options.extraHeaders ? [options.extraHeaders] : []),
    '',
    options.body ?? 'Hello Carol.',
    '',
  ].join('\r\n');
}
