/**
 * The transfer worker: consumes `transfer` jobs (from submission, inbound SMTP and alias
 * expansion) and routes each recipient. A local recipient becomes one `delivery` job; the
 * remote recipients of each destination domain become one `outbound` job, for the outbound
 * worker (outbound/worker.ts).
 *
 * Every add uses its deterministic job id, so a transfer job retried after a crash adds
 * nothing twice. Each delivery job carries the transfer job's loop guard (hop count, visited
 * aliases) on to the delivery agent, which checks it before expanding an alias again. Each
 * recipient's spool reference passes to the job that now carries it (delivery releases it once
 * its copy is stored, the outbound worker once it is delivered or failed); only the spare
 * reference of a recipient named twice is released here. An outbound job's references are also
 * parked until its message's queue lifetime plus the failed-job retention, an upper bound on how
 * long its content can be needed; a transfer job that fails for good parks its references as
 * long as it is kept, and a retried one holds them again before it routes.
 */
import { type Job, UnrecoverableError, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Directory } from '@mailway/directory';
import { routeRecipients } from '@mailway/intake';
import { type TransferJob, deliveryJobId, outboundJobId, transferJobId } from '@mailway/queue/jobs';
import { type MailQueue, createMailWorker, failedJobDeadline } from '@mailway/queue/queues';
import { type Spool, SpoolNotFoundError } from '@mailway/queue/spool';
import type { TraceLog } from '@mailway/queue/trace';
import type { Logger } from '@mailway/runtime';
import type { RelayMetrics } from '../metrics.js';
import { transferOutcome } from './outcome.js';

export interface TransferTargets {
  readonly spool: Spool;
  readonly delivery: MailQueue<'delivery'>;
  readonly outbound: MailQueue<'outbound'>;
  /** Where each message's `routed` events go. */
  readonly trace?: TraceLog;
}

export interface TransferWorkerOptions {
  readonly directory: Directory;
  readonly targets: TransferTargets;
  readonly logger: Logger;
  readonly metrics: RelayMetrics;
  /** How long after its message was received an outbound job's content is kept unless sent (ms). */
  readonly outboundHoldMs: number;
  /** BullMQ key prefix. */
  readonly prefix: string;
  readonly concurrency: number;
  /** Lock and stalled-job timing (see MailWorkerOptions); BullMQ's defaults when left out. */
  readonly locks?: { readonly lockDuration: number; readonly stalledInterval: number };
}

/** Route one transfer job (exported for tests that drive it without a worker). */
export function transferProcessor(options: Omit<TransferWorkerOptions, 'prefix' | 'concurrency' | 'locks'>): (data: TransferJob, job?: Job) => Promise<void> {
  const { targets, logger } = options;
  const route = routeOne(options);

  return async (data, job) => {
    const token = transferJobId(data.queueId, data.parent);
    try {
      // A retry may follow a final failure that parked the references: the job is live again.
      if (job !== undefined && (job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0)) await targets.spool.unpark(data.spoolId, token);
      await route(data);
    } catch (error) {
      // Failed for good: the job's references are parked for as long as the failed job is kept.
      if (job !== undefined && transferOutcome(error, job.attemptsMade, job.opts.attempts ?? 1) === 'fail_and_park') {
        const until = failedJobDeadline(job.opts);
        await targets.spool
          .park(data.spoolId, token, until, data.envelope.recipients.length)
          .catch((parkError: unknown) => logger.error({ queueId: data.queueId, spoolId: data.spoolId, err: parkError }, 'spool entry of a failed transfer job not parked'));
      }
      throw error;
    }
  };
}

/** Routes one transfer job's recipients. */
function routeOne(options: Omit<TransferWorkerOptions, 'prefix' | 'concurrency' | 'locks'>): (data: TransferJob) => Promise<void> {
  const { directory, targets, logger, metrics, outboundHoldMs } = options;

  return async (data) => {
    const jobId = transferJobId(data.queueId, data.parent);
    const log = { queueId: data.queueId, job: jobId, messageId: data.messageId, from: data.envelope.from };

    // Route.
    const routes = await routeRecipients(directory, data.envelope.recipients);
    const { queueId, spoolId, size, messageId, origin, hops, visited } = data;
    const { from: _from, recipients: _recipients, ...mailParams } = data.envelope;
    const parent = data.parent === undefined ? {} : { parent: jobId };

    // The content must be there; from now on it no longer expires on its own. A retry of a job
    // whose every recipient was already routed (and perhaps delivered, releasing the content)
    // has nothing left to do.
    try {
      await targets.spool.claim(data.spoolId);
    } catch (error) {
      if (!(error instanceof SpoolNotFoundError)) throw error;
      if (await alreadyRouted()) {
        logger.info(log, 'transfer job already routed');
        return;
      }
      logger.error({ ...log, spoolId: data.spoolId }, 'transfer job without spooled content: not routed');
      throw new UnrecoverableError(`spool entry ${data.spoolId} not found`);
    }

    // Local recipients: one delivery job each.
    for (const recipient of routes.local) {
      // Recipients from an expanded alias carry its job id: their jobs never collide with the message's own.
      await targets.delivery.add({ queueId, spoolId, size, messageId, from: data.envelope.from, recipient, origin, ...parent, hops, visited, mailParams });
      logger.info({ ...log, to: recipient.address, delivery: deliveryJobId(queueId, recipient.address, parent.parent) }, 'queued for local delivery');
    }

    // Remote recipients: one outbound job per destination domain, its references parked until
    // the queue lifetime (and a failed job's retention) is over.
    const holdUntil = new Date(Date.parse(origin.receivedAt) + outboundHoldMs);
    for (const [domain, recipients] of routes.remote) {
      const outbound = outboundJobId(queueId, jobId, domain);
      await targets.outbound.add({ queueId, spoolId, size, messageId, parent: jobId, domain, envelope: { ...data.envelope, recipients: [...recipients] }, origin });
      await targets.spool.park(spoolId, outbound, holdUntil, recipients.length);
      logger.info(
        { ...log, domain, recipients: recipients.map((r) => r.address), outbound, contentKeptUntil: holdUntil.toISOString() },
        `queued for outbound delivery to ${domain}`,
      );
    }

    // A recipient named twice was routed once: its spare reference goes (once, however often this job runs).
    for (let i = 0; i < routes.duplicates; i += 1) await targets.spool.releaseOnce(spoolId, `duplicate.${jobId}.${i}`);

    /** True when every job this one would add exists already. */
    async function alreadyRouted(): Promise<boolean> {
      for (const recipient of routes.local) {
        if ((await targets.delivery.queue.getJob(deliveryJobId(queueId, recipient.address, parent.parent))) === undefined) return false;
      }
      for (const domain of routes.remote.keys()) {
        if ((await targets.outbound.queue.getJob(outboundJobId(queueId, jobId, domain))) === undefined) return false;
      }
      return routes.local.length + routes.remote.size > 0;
    }

    // Traced and counted once everything is queued, so a retried job is not counted twice for a failed add.
    targets.trace?.record(queueId, ...routes.local.map((r) => ({ type: 'routed' as const, agent: 'relay' as const, recipient: r.address, route: 'local' })), ...[...routes.remote].flatMap(([domain, list]) => list.map((r) => ({ type: 'routed' as const, agent: 'relay' as const, recipient: r.address, route: domain }))));
    const remoteCount = [...routes.remote.values()].reduce((sum, list) => sum + list.length, 0);
    if (routes.local.length > 0) metrics.routed.inc({ route: 'local' }, routes.local.length);
    if (remoteCount > 0) metrics.routed.inc({ route: 'remote' }, remoteCount);
  };
}

/** Start consuming the `transfer` queue over `connection` (a 'worker' role client). */
export function createTransferWorker(connection: Redis, options: TransferWorkerOptions): Worker {
  const process = transferProcessor(options);
  return createMailWorker('transfer', connection, (data, job) => process(data, job), { prefix: options.prefix, concurrency: options.concurrency, ...options.locks });
}
