/**
 * The delivery queue's processor: one `delivery` job per local recipient. Delivers it (see
 * deliver.ts), writes one JSON log line per attempt (queue id, recipient, outcome, file) and
 * counts it. A permanent failure fails the job at once and returns the recipient to the
 * sender in a failure notice (notices.ts); a looping bounce (null sender), which must never be
 * bounced, is dropped instead: reference released, job done. Anything else is retried by BullMQ
 * with backoff, and an attempt that was the job's last is logged as final and returned too.
 *
 * The recipient's spool reference: a job that fails for good parks it until BullMQ drops the
 * failed job (its removeOnFail age), so the content stays as long as the job can be inspected,
 * retried or bounced, and then goes; a retried job (by an operator, or after a crash) holds it
 * again before it runs. A job that carries its message (spool/carried.ts) holds no reference:
 * the content lives and goes with the job.
 */
import type { DeliveryJob } from '@mailway/queue/jobs';
import { type MailProcessor, failedJobDeadline } from '@mailway/queue/queues';
import { isCarried } from '@mailway/queue/spool';
import type { Logger } from '@mailway/runtime';
import type { Verdict } from '@mailway/smtp/server';
import { type DeliveryTargets, deliver, releaseReference } from './deliver.js';
import { traceOutcome } from './trace.js';
import type { DeliveryMetrics } from './metrics.js';
import { returnToSender } from './notices.js';
import { LoopDetected, PermanentFailure, classify } from './outcome.js';

/**
 * The processor handed to createMailWorker. `confirmTaken` (WAIT on the worker's connection,
 * behind replicas) resolves once the replicas know the job was taken: a failover that lost
 * that would hand the job out again as a first start, which would not look for the copy this
 * attempt stores. When they do not confirm, the attempt looks for an earlier copy anyway.
 */
export function deliveryProcessor(targets: DeliveryTargets, logger: Logger, metrics: DeliveryMetrics, confirmTaken: () => Promise<void> = async () => {}): MailProcessor<'delivery'> {
  return async (data, job) => {
    const jobId = job.id ?? '';
    const log = { queueId: data.queueId, jobId, recipient: data.recipient.address, attempt: job.attemptsMade + 1 };
    const timer = metrics.seconds.startTimer({ source: 'queue' });
    try {
      const taken = await confirmTaken().then(
        () => true,
        (error: unknown) => {
          logger.warn({ ...log, err: error }, 'start of delivery not confirmed by redis replicas: looking for an earlier copy first');
          return false;
        },
      );
      // BullMQ counts every start of a job (and every stall): only a job's first start can skip looking for an earlier copy.
      const retry = !taken || job.attemptsStarted > 1 || job.attemptsMade > 0 || job.stalledCounter > 0;
      // A retry may follow a final failure that parked the reference: the job is live again.
      if (retry && !isCarried(data)) await targets.spool.unpark(data.spoolId, jobId);
      const result = await deliver(targets, data, jobId, retry);
      traceOutcome(targets, data, result);
      if (result.kind === 'expanded') {
        metrics.deliveries.inc({ outcome: 'expanded', source: 'queue' });
        logger.info({ ...log, outcome: 'expanded', targets: result.targets, transferJob: result.transferJob, notice: result.notice }, 'alias expanded');
        return;
      }
      const outcome = result.stored ? 'delivered' : 'duplicate';
      metrics.deliveries.inc({ outcome, source: 'queue' });
      if (result.stored) metrics.bytes.inc(result.size);
      logger.info({ ...log, outcome, user: result.user, folder: result.folder, file: result.file, size: result.size, notice: result.notice }, outcome === 'delivered' ? 'delivered' : 'already delivered');
    } catch (error) {
      const failure = classify(error, data.from);
      const final = failure.permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const path = error instanceof LoopDetected ? { path: error.path.join(' -> ') } : {};
      metrics.deliveries.inc({ outcome: failure.outcome, source: 'queue' });
      targets.trace?.record(data.queueId, { type: final || failure.drop ? 'failed' : 'deferred', agent: 'delivery', recipient: data.recipient.address, reply: `${statusOf(failure.verdict)} ${error instanceof Error ? error.message : String(error)}`.trim(), attempt: job.attemptsMade + 1 });
      if (failure.drop) {
        await releaseReference(targets.spool, data, jobId);
        logger.error({ ...log, ...path, outcome: failure.outcome, from: data.from, file: null, final, err: error }, 'delivery failed for good: bounce dropped, never bounced');
        return;
      }
      logger[final ? 'error' : 'warn']({ ...log, ...path, outcome: failure.outcome, file: null, final, err: error }, final ? 'delivery failed for good' : 'delivery deferred');
      if (final) {
        await returnFailure(data, jobId, failure.verdict);
        if (!isCarried(data)) await parkFailed(targets, data.spoolId, jobId, failedJobDeadline(job.opts), logger);
      }
      // A failure for good is recorded with its status (`554 5.4.6 …`), which a bounce will report.
      if (failure.permanent) throw new PermanentFailure(failure.outcome, `${statusOf(failure.verdict)} ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    } finally {
      timer();
    }
  };

  /** The failure notice, logged; a notice that cannot be written never hides the job's own failure. */
  async function returnFailure(data: DeliveryJob, jobId: string, verdict: Verdict): Promise<void> {
    const log = { queueId: data.queueId, jobId, recipient: data.recipient.address, to: data.from };
    try {
      const notice = await returnToSender(targets, data, jobId, verdict);
      if (notice !== null) logger.info({ ...log, notice }, 'failure notice queued');
    } catch (error) {
      logger.error({ ...log, err: error }, 'failure notice not sent');
    }
  }
}

/** The reply code and enhanced status of a verdict: `554 5.4.6`. */
function statusOf(verdict: Verdict): string {
  return verdict.reply === null ? '' : `${verdict.reply.code} ${verdict.reply.enhanced ?? ''}`.trim();
}

/** Parks a failed job's reference until the failed job is dropped; a failure to do so is logged, never hides the job's own error. */
async function parkFailed(targets: DeliveryTargets, spoolId: string, jobId: string, until: Date, logger: Logger): Promise<void> {
  try {
    await targets.spool.park(spoolId, jobId, until);
  } catch (error) {
    logger.error({ spoolId, jobId, err: error }, 'spool entry of a failed delivery not parked');
  }
}
