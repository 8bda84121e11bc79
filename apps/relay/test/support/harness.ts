/**
 * A relay agent for tests: started in-process on a free loopback port against a real
 * redis-server (the run's own, or one the test gives), with its own key prefix, a seeded
 * directory, captured log lines, and handles to inspect what it queued and spooled.
 *
 * Seed: local domains local.example and second.example; bob@local.example (password
 * "bob-secret"), dave@second.example; alias team@local.example → bob@local.example.
 * Host name mx.local.example.
 */
import { type JobsOptions, Queue } from 'bullmq';
import { type AgentHandles, agentBase } from '@mailway/testing/agent';
import { type MessageParts, smallMessage } from '@mailway/testing/message';
import { expect } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { waitFor } from '@mailway/testing/wait';
import type { AttemptRecord } from '@mailway/queue/jobs';
import type { JobTypes, QueueName } from '@mailway/queue/queues';
import { bullPrefix } from '@mailway/queue/queues';
import { type Spool, createRedisSpool } from '@mailway/queue/spool';
import { type Metrics, createLogger, createMetrics } from '@mailway/runtime';
import { type DnsResolver, type RelayAgent, type RelayConfig, createRelayAgent, loadRelayConfig } from '../../src/index.js';

export const bob = { user: 'bob@local.example', pass: 'bob-secret' } as const;

export interface Harness extends AgentHandles {
  readonly agent: RelayAgent;
  readonly config: RelayConfig;
  readonly metrics: Metrics;
  readonly spool: Spool;
  /** Jobs of a queue in any state, with their ids. */
  jobs<N extends QueueName>(name: N): Promise<{ id: string; data: JobTypes[N]; opts: JobsOptions }[]>;
  /** Wait until `name` holds `count` jobs (in any state) of message `queueId`, or of any message; returns them. */
  waitForJobs<N extends QueueName>(name: N, count: number, queueId?: string): Promise<{ id: string; data: JobTypes[N]; opts: JobsOptions }[]>;
  /** The message as queued: carried by its delivery job (one local recipient), else its spool entry. */
  stored(queueId: string): Promise<Buffer>;
  /** The value of a metric series in Prometheus text, or 0. */
  metric(line: RegExp): Promise<number>;
  close(): Promise<void>;
}

const states = ['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'] as const;

/** Start an agent; `env` overrides the test defaults. */
export async function startRelay(options: { env?: Record<string, string>; redisUrl?: string; resolver?: DnsResolver } = {}): Promise<Harness> {
  const base = agentBase(options.redisUrl);
  const { redis, prefix } = base.handles;
  const config = loadRelayConfig({
    env: {
      ...base.env,
      MAILWAY_HOSTNAME: 'mx.local.example',
      RELAY_HOST: '127.0.0.1',
      RELAY_PORT: '0',
      RELAY_AUTH_FAILURE_DELAY: '0',
      ...options.env,
    },
    file: null,
  });

  const logger = createLogger({ name: 'relay', level: 'debug', destination: base.destination });
  const metrics = createMetrics('relay');
  const agent = await createRelayAgent(config, { logger, metrics }, options.resolver === undefined ? {} : { resolver: options.resolver });

  await agent.directory.addDomain('local.example');
  await agent.directory.addDomain('second.example');
  await agent.directory.addUser(bob.user, bob.pass);
  await agent.directory.addUser('dave@second.example', 'dave-secret');
  await agent.directory.addAlias('team@local.example', ['bob@local.example']);

  const spool = createRedisSpool(redis, { prefix });
  const queues = new Map<QueueName, Queue>();
  const queue = (name: QueueName): Queue => {
    let found = queues.get(name);
    if (!found) {
      found = new Queue(name, { connection: redis, prefix: bullPrefix(prefix) });
      found.on('error', () => {});
      queues.set(name, found);
    }
    return found;
  };

  async function jobs<N extends QueueName>(name: N): Promise<{ id: string; data: JobTypes[N]; opts: JobsOptions }[]> {
    const found = await queue(name).getJobs([...states], 0, -1, true);
    return found.map((job) => ({ id: job.id ?? '', data: job.data as JobTypes[N], opts: job.opts }));
  }

  const handles = { ...base.handles, agent, config, metrics, spool };
  return {
    ...handles,
    jobs,
    async waitForJobs(name, count, queueId) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const found = (await jobs(name)).filter((j) => queueId === undefined || j.data.queueId === queueId);
        if (found.length >= count || Date.now() > deadline) return found;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stored(queueId) {
      const carried = (await jobs('delivery')).find((j) => j.data.queueId === queueId && j.data.content !== undefined);
      return carried === undefined ? spool.readAll(queueId) : Buffer.from(carried.data.content ?? '', 'latin1');
    },
    async metric(line) {
      const text = await metrics.registry.metrics();
      const match = text.split('\n').find((l) => line.test(l));
      return match === undefined ? 0 : Number(match.slice(match.lastIndexOf(' ') + 1));
    },
    async close() {
      await agent.stop();
      for (const q of queues.values()) await q.close();
      await base.drop();
    },
  };
}

/** A small RFC 5322 message. */
export function message(parts: MessageParts = {}): string {
  return smallMessage({ from: 'Carol <carol@remote.example>', to: 'bob@local.example', body: 'Hello Bob.' }, parts);
}

/** The queue id in a "250 2.0.0 Ok: queued as ID" reply. */
export function queueIdOf(response: string): string {
  const match = /queued as ([0-9A-Z]+)/.exec(response);
  if (!match?.[1]) throw new Error(`no queue id in ${response}`);
  return match[1];
}

/**
 * Sends one message through the relay's port 25 (from a client in RELAY_NETWORKS, so that it
 * may relay) and checks each reply; returns its queue id.
 */
export async function sendThrough(h: Harness, from: string, to: readonly string[], options: { subject?: string; mailParams?: string } = {}): Promise<string> {
  const { dialog } = await Dialog.open(h.agent.port);
  await dialog.command('EHLO app.internal.example');
  expect((await dialog.command(`MAIL FROM:<${from}>${options.mailParams ?? ''}`)).status).toBe('250 2.1.0');
  for (const address of to) expect((await dialog.command(`RCPT TO:<${address}>`)).status).toBe('250 2.1.5');
  const reply = await dialog.data(message({ from: from || 'MAILER-DAEMON@nowhere.test', to: to.join(', '), subject: options.subject ?? 'outbound test' }));
  await dialog.close();
  expect(reply.status).toBe('250 2.0.0');
  return queueIdOf(reply.text);
}

/**
 * A relay that may relay for 127.0.0.0/8 and sends remote mail by `dns` (`ip:port`) to
 * `port` on every host, IPv4 only, retrying after 150–300 ms; `env` adds or overrides.
 */
export function startOutboundRelay(dns: string, port: number, env: Record<string, string> = {}): Promise<Harness> {
  return startRelay({
    env: {
      RELAY_NETWORKS: '127.0.0.0/8',
      RELAY_OUTBOUND_PORT: String(port),
      RELAY_DNS_SERVERS: dns,
      RELAY_OUTBOUND_ADDRESS_ORDER: 'ipv4-only',
      RELAY_BACKOFF_MIN: '150ms',
      RELAY_BACKOFF_MAX: '300ms',
      ...env,
    },
  });
}

/** A probe: true once the message's content is gone from the spool (every recipient settled). */
/** The last attempt's record for the one recipient of outbound message `queueId`, once there is one. */
export async function lastAttempt(h: Harness, queueId: string): Promise<AttemptRecord> {
  return waitFor(`an attempt for ${queueId}`, async () => {
    const job = (await h.jobs('outbound')).find((j) => j.data.queueId === queueId);
    return job?.data.progress?.last[0] ?? null;
  });
}

export const settled = (h: Harness, queueId: string) => async (): Promise<boolean> => (await h.spool.stat(queueId)) === null;
