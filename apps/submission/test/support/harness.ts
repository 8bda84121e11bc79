/**
 * A submission agent for tests: started in-process on free loopback ports against a real
 * redis-server (the run's own, or one the test gives), with its own key prefix, a seeded
 * directory, captured log lines, and handles to inspect what it queued.
 *
 * Seed: domain example.org; alice@example.org (password "alice-secret", may send as
 * sales@example.org), bob@example.org (password "bob-secret").
 */
import { Queue } from 'bullmq';
import { type AgentHandles, agentBase } from '@mailway/testing/agent';
import { type MessageParts, smallMessage } from '@mailway/testing/message';
import type { TransferJob } from '@mailway/queue/jobs';
import { createRedisSpool, type Spool } from '@mailway/queue/spool';
import { createLogger, createMetrics, type Metrics } from '@mailway/runtime';
import { bullPrefix } from '@mailway/queue/queues';
import { createSubmissionAgent, loadSubmissionConfig, type SubmissionAgent, type SubmissionConfig } from '../../src/index.js';

export const alice = { user: 'alice@example.org', pass: 'alice-secret' } as const;
export const bob = { user: 'bob@example.org', pass: 'bob-secret' } as const;

export interface Harness extends AgentHandles {
  readonly agent: SubmissionAgent;
  readonly config: SubmissionConfig;
  readonly metrics: Metrics;
  readonly spool: Spool;
  /** Transfer jobs waiting in the queue, oldest first. */
  jobs(): Promise<TransferJob[]>;
  close(): Promise<void>;
}

/** Start an agent; `env` overrides the test defaults. */
export async function startSubmission(options: { env?: Record<string, string>; redisUrl?: string; seed?: boolean } = {}): Promise<Harness> {
  const base = agentBase(options.redisUrl);
  const { redis, prefix } = base.handles;
  const config = loadSubmissionConfig({
    env: {
      ...base.env,
      MAILWAY_HOSTNAME: 'msa.test.example',
      SUBMISSION_HOST: '127.0.0.1',
      SUBMISSION_PORT: '0',
      SUBMISSION_TLS_PORT: '0',
      SUBMISSION_AUTH_FAILURE_DELAY: '0',
      ...options.env,
    },
    file: null,
  });

  const logger = createLogger({ name: 'submission', level: 'debug', destination: base.destination });
  const metrics = createMetrics('submission');
  const agent = await createSubmissionAgent(config, { logger, metrics });

  if (options.seed !== false) {
    await agent.directory.addDomain('example.org');
    await agent.directory.addUser(alice.user, alice.pass, { sendAs: ['sales@example.org'] });
    await agent.directory.addUser(bob.user, bob.pass);
  }

  const spool = createRedisSpool(redis, { prefix });
  const queue = new Queue('transfer', { connection: redis, prefix: bullPrefix(prefix) });

  const handles = { ...base.handles, agent, config, metrics, spool };
  return {
    ...handles,
    async jobs() {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'active'], 0, -1, true);
      return jobs.map((job) => job.data as TransferJob);
    },
    async close() {
      await agent.stop();
      await queue.close();
      await base.drop();
    },
  };
}

/** A small RFC 5322 message. */
export function message(parts: MessageParts = {}): string {
  return smallMessage({ from: 'Alice <alice@example.org>', to: 'carol@remote.example', body: 'Hello Carol.' }, parts);
}
