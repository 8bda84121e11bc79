/**
 * The notices the delivery agent owes a message's sender (RFC 3461, RFC 3464), each written by
 * `@mailway/intake/notices` and handed to the intake as a new message from `<>`, as the relay's
 * outbound side does for remote recipients:
 * - failure: a recipient failed for good (unknown user, a mail loop, a mailbox full until the
 *   last attempt), unless it asked for none (NOTIFY=NEVER or a list without FAILURE);
 * - success: only when asked (NOTIFY with SUCCESS) — "delivered" once the message is in the
 *   recipient's mailbox, "expanded" once an alias that is a list has sent it on to its members.
 * Never for a message from the null sender (itself a notice).
 *
 * Reads: the delivery job and what became of it. Emits: one transfer job under a queue id
 * derived from the delivery job's id and the notice's kind, so a job run again after a crash
 * sends the same notice, not a second one.
 */
import type { TraceLog } from '@mailway/queue/trace';
import type { DeliveryJob } from '@mailway/queue/jobs';
import { type DsnRecipient, type NoticeContext, type NoticeSubject, noticeQueueId, sendNotice, wantsNotice } from '@mailway/intake/notices';
import type { MailQueue } from '@mailway/queue/queues';
import { type Spool, SpoolNotFoundError } from '@mailway/queue/spool';
import { describeReply } from '@mailway/smtp/reply';
import type { Verdict } from '@mailway/smtp/server';

export interface NoticeSettings {
  /** This host's name (Reporting-MTA). */
  readonly hostname: string;
  /** The original is returned whole up to this size, else its header only. */
  readonly returnLimit: number;
}

/** What sending a notice needs. */
export interface NoticeTargets {
  readonly spool: Spool;
  readonly transfer: MailQueue<'transfer'>;
  readonly notices: NoticeSettings;
  readonly trace?: TraceLog;
  /** Replica confirmation of the notice before the job that wrote it ends (see DeliveryTargets). */
  readonly confirm?: () => Promise<void>;
}

/** Sends the failure notice for `job` (failed for good with `verdict`); resolves with its queue id, or null when none is owed. */
export async function returnToSender(targets: NoticeTargets, job: DeliveryJob, jobId: string, verdict: Verdict): Promise<string | null> {
  if (job.from === '' || !wantsNotice(job.recipient, 'failure')) return null;
  const reply = verdict.reply;
  // A temporary condition that outlasted every attempt is a failure now: the class becomes 5.
  const status = `5${(reply?.enhanced ?? '5.0.0').slice(1)}`;
  const queueId = noticeQueueId(job.queueId, `failure|${jobId}`);
  await sendNotice(queueId, subjectOf(job), [report(job, 'failed', status, reply === null ? 'delivery failed' : describeReply(reply))], contextOf(targets));
  return queueId;
}

/**
 * Sends the success notice for `job` when its recipient asked for one: `delivered` (stored in
 * its mailbox) or `expanded` (an alias list sent on to its members). Called before the job lets
 * go of the content, which the notice reads. Resolves with the notice's queue id, or null when
 * none is owed or it can no longer be written: a job run again after the content went had sent
 * its notice before letting go of it.
 */
export async function reportSuccess(targets: NoticeTargets, job: DeliveryJob, jobId: string, action: 'delivered' | 'expanded', detail: string): Promise<string | null> {
  if (job.from === '' || !wantsNotice(job.recipient, 'success')) return null;
  const queueId = noticeQueueId(job.queueId, `${action}|${jobId}`);
  try {
    await sendNotice(queueId, subjectOf(job), [report(job, action, '2.0.0', detail)], contextOf(targets));
  } catch (error) {
    if (error instanceof SpoolNotFoundError) return null;
    throw error;
  }
  return queueId;
}

/** The message a notice about `job` is about, with the MAIL FROM parameters it was accepted with. */
function subjectOf(job: DeliveryJob): NoticeSubject {
  return { queueId: job.queueId, spoolId: job.spoolId, content: job.content, envelope: { from: job.from, envid: job.mailParams?.envid ?? null, ret: job.mailParams?.ret ?? null }, origin: job.origin };
}

/** The report on `job`'s recipient. */
function report(job: DeliveryJob, action: DsnRecipient['action'], status: string, detail: string): DsnRecipient {
  return { address: job.recipient.address, orcpt: job.recipient.orcpt, action, status, remoteMta: null, remoteReply: null, detail, lastAttempt: new Date(), willRetryUntil: null };
}

function contextOf(targets: NoticeTargets): NoticeContext {
  return { hostname: targets.notices.hostname, spool: targets.spool, targets: { spool: targets.spool, transfer: targets.transfer, ...(targets.trace === undefined ? {} : { trace: targets.trace }), ...(targets.confirm ? { confirm: targets.confirm } : {}) }, returnLimit: targets.notices.returnLimit, agent: 'delivery' };
}
