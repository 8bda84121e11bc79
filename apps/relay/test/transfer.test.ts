/**
 * The transfer worker: a message with two local and two remote recipients in two domains
 * becomes two delivery jobs and two outbound jobs under their deterministic ids, with the spool
 * references passed on (the outbound jobs' parked until the queue lifetime is over); routing
 * the same transfer job again adds nothing. A job whose content is missing fails at once, never
 * retried; one that fails for good parks its references as long as it is kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TransferJob, deliveryJobId, newQueueId, outboundJobId } from '@mailway/queue/jobs';
import { type MailQueue, bullPrefix, createMailQueue, createMailWorker } from '@mailway/queue/queues';
import { createRedis } from '@mailway/queue/redis';
import { createLogger, createMetrics } from '@mailway/runtime';
import { createRelayMetrics } from '../src/metrics.js';
import { transferProcessor } from '../src/transfer/worker.js';
import { type Harness, startRelay } from './support/harness.js';

let h: Harness;
let transfer: MailQueue<'transfer'>;
let delivery: MailQueue<'delivery'>;
let outbound: MailQueue<'outbound'>;

beforeAll(async () => {
  // Routing alone: no outbound worker picks the outbound jobs up.
  h = await startRelay({ env: { RELAY_ROLES: 'inbound,router' } });
  const prefix = bullPrefix(h.prefix);
  transfer = createMailQueue('transfer', h.redis, { prefix });
  delivery = createMailQueue('delivery', h.redis, { prefix });
  outbound = createMailQueue('outbound', h.redis, { prefix });
});
afterAll(async () => {
  await Promise.all([transfer.close(), delivery.close(), outbound.close()]);
  await h.close();
});

function transferJob(queueId: string, addresses: string[]): TransferJob {
  return {
    queueId,
    spoolId: queueId,
    size: 5,
    messageId: '<mixed@remote.example>',
    envelope: {
      from: 'carol@remote.example',
      recipients: addresses.map((address) => ({ address, notify: address.startsWith('bob') ? ['FAILURE'] : null, orcpt: null })),
      body: '8BITMIME',
      smtputf8: false,
      ret: 'HDRS',
      envid: 'ENV-7',
      requireTls: false,
    },
    origin: { agent: 'submission', client: { address: '192.0.2.7', port: 50123, helo: 'laptop' }, user: 'carol@remote.example', tls: null, receivedAt: new Date().toISOString() },
  };
}

describe('routing a mixed message', () => {
  it('makes 2 delivery jobs and 2 outbound jobs, and nothing more when routed again', async () => {
    const queueId = newQueueId();
    const addresses = ['bob@local.example', 'erin@other.example', 'dave@second.example', 'carol@Remote.Example'];
    const job = transferJob(queueId, addresses);
    await h.spool.write(queueId, Buffer.from('hello'), { refs: 4 });
    await transfer.add(job);

    // The running worker routes it.
    const deliveries = await h.waitForJobs('delivery', 2, queueId);
    const outbounds = await h.waitForJobs('outbound', 2, queueId);
    expect(deliveries.map((j) => j.id).sort()).toEqual([deliveryJobId(queueId, 'bob@local.example'), deliveryJobId(queueId, 'dave@second.example')].sort());
    const bob = deliveries.find((j) => j.data.recipient.address === 'bob@local.example');
    expect(bob?.data).toEqual({ queueId, spoolId: queueId, size: 5, messageId: '<mixed@remote.example>', from: 'carol@remote.example', recipient: { address: 'bob@local.example', notify: ['FAILURE'], orcpt: null }, origin: job.origin, mailParams: { body: '8BITMIME', smtputf8: false, ret: 'HDRS', envid: 'ENV-7', requireTls: false } });
    expect(outbounds.map((j) => j.id).sort()).toEqual([outboundJobId(queueId, queueId, 'other.example'), outboundJobId(queueId, queueId, 'remote.example')].sort());
    const remote = outbounds.find((j) => j.data.domain === 'remote.example');
    expect(remote?.data).toEqual({ queueId, spoolId: queueId, size: 5, messageId: '<mixed@remote.example>', parent: queueId, domain: 'remote.example', envelope: { ...job.envelope, recipients: [job.envelope.recipients[3]] }, origin: job.origin });
    // Two references held by the delivery jobs, two parked by the outbound jobs.
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 4, claimed: true, parked: 2, expiresAt: null });

    // The same job again (a retry after a crash): the same ids, nothing new.
    const route = transferProcessor({ directory: h.agent.directory, targets: { spool: h.spool, delivery, outbound }, logger: createLogger({ name: 'relay', level: 'silent' }), metrics: createRelayMetrics(createMetrics('relay')), outboundHoldMs: 60_000 });
    await route(job);
    await route(job);
    expect((await h.jobs('delivery')).filter((j) => j.data.queueId === queueId)).toHaveLength(2);
    expect((await h.jobs('outbound')).filter((j) => j.data.queueId === queueId)).toHaveLength(2);
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 4, parked: 2 });

    // Every recipient delivered (the content is gone), then the job is retried: nothing to do, no failure.
    await h.spool.remove(queueId);
    await expect(route(job)).resolves.toBeUndefined();
    expect((await h.jobs('delivery')).filter((j) => j.data.queueId === queueId)).toHaveLength(2);
  });

  it('a derived transfer job (alias expansion) gets outbound jobs of its own', async () => {
    const queueId = newQueueId();
    await h.spool.write(queueId, Buffer.from('hello'), { refs: 1 });
    const parent = deliveryJobId(queueId, 'team@local.example');
    await transfer.add({ ...transferJob(queueId, ['carol@remote.example']), parent });
    const [job] = await h.waitForJobs('outbound', 1, queueId);
    expect(job?.data.parent).not.toBe(queueId);
    expect(job?.id).toBe(outboundJobId(queueId, job?.data.parent ?? '', 'remote.example'));
  });

  it('fails a job whose content is not in the spool at once, without retries', async () => {
    const queueId = newQueueId();
    await transfer.add(transferJob(queueId, ['bob@local.example']), { attempts: 5 });
    const deadline = Date.now() + 10_000;
    let state = '';
    while (Date.now() < deadline && state !== 'failed') {
      state = await transfer.queue.getJobState(queueId);
      if (state !== 'failed') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(state).toBe('failed');
    const failed = await transfer.queue.getJob(queueId);
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toBe(`spool entry ${queueId} not found`);
    expect(h.logs.some((l) => l.msg === 'transfer job without spooled content: not routed' && l.queueId === queueId)).toBe(true);
    expect((await h.jobs('delivery')).filter((j) => j.data.queueId === queueId)).toEqual([]);
  });

  it('keeps the content of waiting outbound jobs until the queue lifetime is over, then lets it go', async () => {
    const queueId = newQueueId();
    const job = transferJob(queueId, ['erin@other.example', 'carol@remote.example', 'frank@remote.example']);
    await h.spool.write(queueId, Buffer.from('hello'), { refs: 3 });
    const route = transferProcessor({ directory: h.agent.directory, targets: { spool: h.spool, delivery, outbound }, logger: createLogger({ name: 'relay', level: 'silent' }), metrics: createRelayMetrics(createMetrics('relay')), outboundHoldMs: 1500 });
    await route(job);
    const keptUntil = Date.parse(job.origin.receivedAt) + 1500;
    expect(await h.spool.stat(queueId)).toMatchObject({ refs: 3, parked: 3, claimed: true, expiresAt: new Date(keptUntil) });

    // Nothing sends it: past the deadline the content is gone, the jobs still wait.
    while (Date.now() < keptUntil + 100) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await h.spool.stat(queueId)).toBeNull();
    expect((await h.jobs('outbound')).filter((j) => j.data.queueId === queueId)).toHaveLength(2);
  });

  it('parks the references of a transfer job that fails for good as long as it is kept, and holds them again when it is retried', async () => {
    const queueId = newQueueId();
    const data = transferJob(queueId, ['carol@remote.example', 'frank@remote.example']);
    await h.spool.write(queueId, Buffer.from('hello'), { refs: 2 });

    // A queue of its own (failed jobs kept 60 s) with a worker whose outbound queue is first
    // unreachable (its Redis connection is down), then working again.
    const prefix = `${bullPrefix(h.prefix)}-parked`;
    const queue = createMailQueue('transfer', h.redis, { prefix, failedRetentionMs: 60_000 });
    const down = createRedis(h.config.redis.url, { role: 'command' });
    down.on('error', () => {});
    down.disconnect();
    const unreachable = createMailQueue('outbound', down, { prefix: bullPrefix(h.prefix) });
    const options = { directory: h.agent.directory, logger: createLogger({ name: 'relay', level: 'silent' }), metrics: createRelayMetrics(createMetrics('relay')), outboundHoldMs: 3_600_000 };
    let route = transferProcessor({ ...options, targets: { spool: h.spool, delivery, outbound: unreachable } });
    const workerRedis = createRedis(h.config.redis.url, { role: 'worker' });
    const worker = createMailWorker('transfer', workerRedis, (job, bull) => route(job, bull), { prefix });
    const settled = (state: string) => waitForState(queue, queueId, state);
    try {
      const before = Date.now();
      await queue.add(data, { attempts: 1 });
      await settled('failed');
      const stat = await h.spool.stat(queueId);
      expect(stat).toMatchObject({ refs: 2, parked: 2, claimed: true });
      // 60 s, and as much again as grace for the moment BullMQ takes to stamp the job failed.
      expect(stat?.expiresAt?.getTime()).toBeGreaterThanOrEqual(before + 120_000);
      expect(stat?.expiresAt?.getTime()).toBeLessThanOrEqual(Date.now() + 120_000);

      // Retried by an operator once outbound works again: live, the job holds its references
      // until the outbound jobs it adds park them for themselves.
      route = transferProcessor({ ...options, targets: { spool: h.spool, delivery, outbound } });
      await (await queue.queue.getJob(queueId))!.retry('failed');
      await settled('completed');
      expect(await h.spool.stat(queueId)).toMatchObject({ refs: 2, parked: 2, expiresAt: new Date(Date.parse(data.origin.receivedAt) + 3_600_000) });
    } finally {
      await worker.close();
      await queue.queue.obliterate({ force: true });
      await Promise.all([queue.close(), unreachable.close()]);
      workerRedis.disconnect();
    }
  });
});

/** Waits until job `id` of `queue` is in `state`. */
async function waitForState(queue: MailQueue<'transfer'>, id: string, state: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await queue.queue.getJobState(id)) !== state) {
    if (Date.now() > deadline) throw new Error(`job ${id} never reached ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
