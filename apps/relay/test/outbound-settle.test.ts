/**
 * The outbound worker's settle step after a worker dies in it: the attempt's outcomes are
 * recorded in the job, so the next run finishes the same attempt — each notice handed to the
 * intake once, each spool reference released once — even when the original is already gone.
 * Driven without a BullMQ worker: the processor runs on a real job in a real Redis, against a
 * real receiving server, and the "death" is a write to the job that fails.
 */
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { type OutboundJob, newQueueId } from '@mailway/queue/jobs';
import { type MailQueue, bullPrefix, createMailQueue } from '@mailway/queue/queues';
import { createLogger } from '@mailway/runtime';
import { type OutboundSettings, outboundProcessor } from '../src/outbound/worker.js';
import { type Harness, startRelay } from './support/harness.js';
import { type Peer, startPeer } from './support/peers.js';
import { sharedPort } from '@mailway/testing/ports';

const address = '127.0.0.61';
let h: Harness;
let peer: Peer;
let port: number;
let outbound: MailQueue<'outbound'>;
let transfer: MailQueue<'transfer'>;

beforeAll(async () => {
  // Nothing runs the queues: the test drives the processor itself.
  h = await startRelay({ env: { RELAY_ROLES: 'inbound' } });
  outbound = createMailQueue('outbound', h.redis, { prefix: bullPrefix(h.prefix) });
  transfer = createMailQueue('transfer', h.redis, { prefix: bullPrefix(h.prefix) });
  port = await sharedPort([address]);
  peer = await startPeer(address, port, { rcpt: { 'gone@dest.test': 550 } });
});
afterAll(async () => {
  await peer?.close();
  await Promise.all([outbound?.close(), transfer?.close()]);
  await h?.close();
});

const settings = (): OutboundSettings => ({
  hostname: 'mx.local.example',
  helo: 'mx.local.example',
  router: {
    dns: new Resolver(),
    ownNames: [],
    ownAddresses: [],
    addressOrder: 'ipv4-only',
    smarthost: null,
    transports: new Map([['dest.test', { protocol: 'smtp', host: address, port, mx: false }]]),
    port,
  },
  retry: { minBackoff: 300_000, maxBackoff: 4_000_000, lifetime: 5 * 86_400_000, bounceLifetime: 2 * 86_400_000, delayWarning: 0 },
  maxHosts: 5,
  startTls: 'never',
  smarthost: { auth: null, startTls: 'never' },
  returnLimit: 100_000,
  timeouts: { connect: 5_000, greeting: 10_000, command: 10_000 },
  sessions: { perDestination: 20, idleTimeout: 0, maxAge: 300_000, maxMessages: 100 },
});

/** The job as a fresh run sees it; a write to its data that `dies` picks kills the run. */
async function jobOf(id: string, dies: (data: OutboundJob) => boolean = () => false): Promise<Job> {
  const job = await outbound.queue.getJob(id);
  if (!job) throw new Error(`no job ${id}`);
  const updateData = job.updateData.bind(job);
  job.updateData = async (data: OutboundJob) => {
    if (dies(data)) throw new Error('the worker died here');
    return updateData(data);
  };
  return job;
}

/** An outbound job for `to` at dest.test, its content in the spool; returns the job id and queue id. */
async function queued(to: string): Promise<{ id: string; queueId: string }> {
  const queueId = newQueueId();
  const content = Buffer.from(`From: bob@local.example\r\nTo: ${to}\r\nSubject: settle\r\n\r\nHello.\r\n`);
  await h.spool.write(queueId, content, { refs: 1 });
  await h.spool.claim(queueId);
  const data: OutboundJob = {
    queueId,
    spoolId: queueId,
    size: content.length,
    messageId: null,
    parent: queueId,
    domain: 'dest.test',
    envelope: { from: 'bob@local.example', recipients: [{ address: to, notify: null, orcpt: null }], body: null, smtputf8: false, ret: null, envid: null, requireTls: false },
    origin: { agent: 'relay', client: null, user: null, tls: null, receivedAt: new Date().toISOString() },
  };
  return { id: await outbound.add(data), queueId };
}

/** The processor over a spool whose releases "kill" the run once they are done, when `dies`. */
function processor(dies: { afterRelease: boolean }) {
  const spool = Object.create(h.spool) as typeof h.spool;
  spool.releaseOnce = async (id, token) => {
    const refs = await h.spool.releaseOnce(id, token);
    if (dies.afterRelease) throw new Error('the worker died here');
    return refs;
  };
  return outboundProcessor({ spool, intake: { spool: h.spool, transfer }, settings: settings(), logger: createLogger({ name: 'relay', level: 'silent' }), metrics: { attempts: { inc: () => {} } } });
}

describe('a worker that dies while settling an attempt', () => {
  it('after releasing the original: the next run completes, the bounce sent once', async () => {
    const { id, queueId } = await queued('gone@dest.test');
    const dies = { afterRelease: true };
    const process = processor(dies);

    // First run: the attempt is recorded, the bounce queued, the original released; then it dies
    // before BullMQ could mark the job done.
    const first = await jobOf(id);
    await expect(process(first.data as OutboundJob, first)).rejects.toThrow('the worker died here');
    expect(await h.spool.stat(queueId)).toBeNull();

    // The next run finishes the same attempt: no second delivery attempt, no second bounce.
    dies.afterRelease = false;
    const connections = peer.connections;
    const second = await jobOf(id);
    await process(second.data as OutboundJob, second);
    expect(peer.connections).toBe(connections);
    const notices = (await h.jobs('transfer')).filter((j) => j.data.envelope.from === '' && j.data.envelope.recipients[0]?.address === 'bob@local.example');
    expect(notices).toHaveLength(1);
    expect((await outbound.queue.getJob(id))?.data.progress).toMatchObject({ attempts: 1, pending: [] });
  });

  it('after releasing a delivered message: the next run finds the content gone and sends nothing again', async () => {
    const { id, queueId } = await queued('kept@dest.test');
    const dies = { afterRelease: true };
    const process = processor(dies);
    const received = peer.received.length;

    // Delivered, released without a record, and the run dies before the job is done.
    const first = await jobOf(id);
    await expect(process(first.data as OutboundJob, first)).rejects.toThrow('the worker died here');
    expect(peer.received.length).toBe(received + 1);
    expect(await h.spool.stat(queueId)).toBeNull();

    // BullMQ hands the job out again (its second start): nothing to send, no second copy.
    dies.afterRelease = false;
    const second = await jobOf(id);
    second.attemptsStarted = 2;
    await process(second.data as OutboundJob, second);
    expect(peer.received.length).toBe(received + 1);
  });
});
