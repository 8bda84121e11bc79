/**
 * A delivery agent for tests: started in-process against the run's redis-server with its own
 * key prefix, mailboxes in a temporary directory, LMTP on a free loopback port, a seeded
 * directory, captured log lines, and the producer side of the queues as the relay uses it.
 *
 * Seed: domain example.org; bob@example.org, carol@example.org (quota 1000 octets);
 * alias team@example.org → bob, carol and dave@remote.example.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentHandles, agentBase } from '@mailway/testing/agent';
import { type DeliveryJob, newQueueId } from '@mailway/queue/jobs';
import { type MailQueue, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { type Spool, createFsSpool, createRedisSpool } from '@mailway/queue/spool';
import { createLogger, createMetrics, type Metrics } from '@mailway/runtime';
import { createDeliveryAgent, loadDeliveryConfig, type DeliveryAgent, type DeliveryConfig } from '../../src/index.js';

export interface Harness extends AgentHandles {
  readonly agent: DeliveryAgent;
  readonly config: DeliveryConfig;
  readonly metrics: Metrics;
  readonly spool: Spool;
  readonly delivery: MailQueue<'delivery'>;
  readonly transfer: MailQueue<'transfer'>;
  /** The mailbox root. */
  readonly root: string;
  /**
   * Spools `content` for `recipients` and queues one delivery job each, as the relay does; with
   * `carried`, each job carries the content and nothing is spooled (as the intake queues a small
   * message for one local recipient). Returns the job ids.
   */
  enqueue(content: Buffer, recipients: string[], options?: { carried?: boolean; from?: string; attempts?: number; queueId?: string; hops?: number; visited?: string[]; mailParams?: DeliveryJob['mailParams']; notify?: DeliveryJob['recipient']['notify']; orcpt?: DeliveryJob['recipient']['orcpt']; quarantine?: boolean }): Promise<{ queueId: string; jobIds: string[] }>;
  /** Queues a delivery job for each recipient of a transfer job (an expanded alias's), as the relay's router does for a local recipient; returns their ids. */
  route(transferJobId: string): Promise<string[]>;
  /** Waits until the job is completed or failed; returns the state. */
  settle(jobId: string, until?: string[]): Promise<string>;
  close(): Promise<void>;
}

/** Environment shared by in-process and child-process agents. */
export function testEnv(redisUrl: string, prefix: string, root: string): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    MAILWAY_REDIS_PREFIX: prefix,
    MAILWAY_HOSTNAME: 'mda.test.example',
    DELIVERY_MAILBOX_ROOT: root,
    DELIVERY_LMTP_HOST: '127.0.0.1',
    DELIVERY_LMTP_PORT: '0',
    DELIVERY_HTTP_PORT: '0',
  };
}

/** Start an agent; `env` overrides the test defaults. */
export async function startDelivery(options: { env?: Record<string, string> } = {}): Promise<Harness> {
  const base = agentBase();
  const { redis, prefix } = base.handles;
  const root = await mkdtemp(join(tmpdir(), 'mailway-delivery-'));
  const config = loadDeliveryConfig({ env: { ...testEnv(base.env.REDIS_URL, prefix, root), ...options.env }, file: null });

  const metrics = createMetrics('delivery');
  const agent = await createDeliveryAgent(config, { logger: createLogger({ name: 'delivery', level: 'debug', destination: base.destination }), metrics });
  await seed(agent);

  // The agent's own spool backend, and its queues' retention of failed jobs, as the relay would use them.
  const spool = config.delivery.spool.backend === 'fs' ? createFsSpool({ directory: config.delivery.spool.directory }) : createRedisSpool(redis, { prefix });
  const queueOptions = { prefix: bullPrefix(prefix), failedRetentionMs: config.failedRetention };
  const delivery = createMailQueue('delivery', redis, queueOptions);
  const transfer = createMailQueue('transfer', redis, queueOptions);

  const handles = { ...base.handles, agent, config, metrics, spool };
  return {
    ...handles,
    delivery,
    transfer,
    root,
    async enqueue(content, recipients, enqueueOptions = {}) {
      const queueId = enqueueOptions.queueId ?? newQueueId();
      const carried = enqueueOptions.carried === true;
      if (!carried) {
        await spool.write(queueId, content, { refs: recipients.length });
        await spool.claim(queueId);
      }
      const jobIds: string[] = [];
      for (const address of recipients) {
        const job: DeliveryJob = {
          queueId,
          spoolId: queueId,
          size: content.length,
          messageId: null,
          from: enqueueOptions.from ?? 'alice@remote.example',
          recipient: { address, notify: enqueueOptions.notify ?? null, orcpt: enqueueOptions.orcpt ?? null },
          origin: { agent: 'relay', client: { address: '192.0.2.1', port: 25, helo: 'mx.remote.example' }, user: null, tls: null, receivedAt: new Date().toISOString(), ...(enqueueOptions.quarantine === true ? { quarantine: true as const } : {}) },
          ...(enqueueOptions.hops === undefined ? {} : { hops: enqueueOptions.hops }),
          ...(enqueueOptions.visited === undefined ? {} : { visited: enqueueOptions.visited }),
          ...(enqueueOptions.mailParams === undefined ? {} : { mailParams: enqueueOptions.mailParams }),
          ...(carried ? { content: content.toString('latin1') } : {}),
        };
        jobIds.push(await delivery.add(job, enqueueOptions.attempts === undefined ? {} : { attempts: enqueueOptions.attempts }));
      }
      return { queueId, jobIds };
    },
    async route(transferJobId) {
      const job = await transfer.queue.getJob(transferJobId);
      if (job === undefined) throw new Error(`no transfer job ${transferJobId}`);
      const { queueId, spoolId, size, messageId, envelope, origin, hops, visited } = job.data;
      const { from, recipients, ...mailParams } = envelope;
      const ids: string[] = [];
      for (const recipient of recipients) ids.push(await delivery.add({ queueId, spoolId, size, messageId, from, recipient, origin, parent: transferJobId, hops, visited, mailParams }));
      return ids;
    },
    settle: (jobId, until) => settle(delivery, jobId, until),
    async close() {
      await agent.stop();
      await Promise.all([delivery.close(), transfer.close()]);
      await base.drop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Waits until the job reaches one of the states (completed or failed by default). */
export async function settle(queue: MailQueue<'delivery'>, jobId: string, until = ['completed', 'failed']): Promise<string> {
  for (;;) {
    const state = await queue.queue.getJobState(jobId);
    if (until.includes(state)) return state;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The test directory. */
export async function seed(agent: DeliveryAgent): Promise<void> {
  await agent.directory.addDomain('example.org');
  await agent.directory.addUser('bob@example.org', 'bob-secret');
  await agent.directory.addUser('carol@example.org', 'carol-secret', { quotaBytes: 1000 });
  await agent.directory.addAlias('team@example.org', ['bob@example.org', 'carol@example.org', 'dave@remote.example']);
}

/** A small message. */
export function message(subject = 'hello', body = 'Hello Bob.\r\n'): Buffer {
  return Buffer.from(`From: Alice <alice@remote.example>\r\nTo: bob@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${randomUUID()}@remote.example>\r\n\r\n${body}`);
}
