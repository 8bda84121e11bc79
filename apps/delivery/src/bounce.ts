/**
 * Returning a recipient the delivery agent failed for good to the message's sender: an RFC 3464
 * failure notice (unknown user, a mail loop, a mailbox full until the last attempt), written
 * from the spooled message and handed to the intake, as the relay's outbound side does for
 * remote recipients. Never for a message from the null sender (itself a notice), never when the
 * recipient asked for none (NOTIFY=NEVER or a list without FAILURE).
 *
 * Reads: the failed delivery job and its verdict. Emits: one transfer job under a queue id
 * derived from the delivery job's id, so a job run again after a crash sends the same notice.
 */
import type { DeliveryJob } from '@mailway/queue/jobs';
import { noticeQueueId, sendNotice, wantsNotice } from '@mailway/queue/notices';
import { describeReply } from '@mailway/smtp/reply';
import type { Verdict } from '@mailway/smtp/server';
import type { DeliveryTargets } from './deliver.js';

export interface BounceSettings {
  /** This host's name (Reporting-MTA). */
  readonly hostname: string;
  /** The original is returned whole up to this size, else its header only. */
  readonly returnLimit: number;
}

/** Sends the failure notice for `job` (failed for good with `verdict`); resolves with its queue id, or null when none is owed. */
export async function returnToSender(targets: DeliveryTargets, settings: BounceSettings, job: DeliveryJob, jobId: string, verdict: Verdict): Promise<string | null> {
  if (job.from === '' || !wantsNotice(job.recipient, 'failure')) return null;
  const reply = verdict.reply;
  // A temporary condition that outlasted every attempt is a failure now: the class becomes 5.
  const status = `5${(reply?.enhanced ?? '5.0.0').slice(1)}`;
  const queueId = noticeQueueId(job.queueId, `failure|${jobId}`);
  await sendNotice(
    queueId,
    { queueId: job.queueId, spoolId: job.spoolId, envelope: { from: job.from, envid: job.mailParams?.envid ?? null, ret: job.mailParams?.ret ?? null }, origin: job.origin },
    [
      {
        address: job.recipient.address,
        orcpt: job.recipient.orcpt,
        action: 'failed',
        status,
        remoteMta: null,
        remoteReply: null,
        detail: reply === null ? 'delivery failed' : describeReply(reply),
        lastAttempt: new Date(),
        willRetryUntil: null,
      },
    ],
    { hostname: settings.hostname, spool: targets.spool, targets: { spool: targets.spool, transfer: targets.transfer }, returnLimit: settings.returnLimit, agent: 'delivery' },
  );
  return queueId;
}
