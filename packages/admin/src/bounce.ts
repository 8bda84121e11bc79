/**
 * Returning a queued message to its sender now (`mailway queue bounce`, the admin API's
 * bounce): the recipients it still has are given up on, the sender gets one failure notice
 * (RFC 3464) naming them, and the message's jobs leave the queue with their spool references.
 *
 * Order, so that the notice can always be written: the content is held by a reference of the
 * bounce's own (parked an hour, so that a bounce that dies halfway lets go of it by itself),
 * then the jobs are deleted, then the notice is written from the content and handed to the
 * intake, then the bounce's reference goes. A job a worker is running is left alone, and its
 * recipients are not named in the notice. A message from the null sender (itself a notice) is
 * deleted without a notice, as is a recipient that asked for none (NOTIFY=NEVER, or no FAILURE).
 *
 * Reads: the message's jobs (@mailway/queue/admin), its spooled content. Emits: one transfer job
 * (the notice, from `<>`), under a queue id derived from the jobs deleted.
 */
import type { ActedJob, ActionResult, MessageDetail, QueueAdmin } from '@mailway/queue/admin';
import type { AttemptRecord, EnvelopeRecipient } from '@mailway/queue/jobs';
import { SpoolNotFoundError } from '@mailway/queue/spool';
import { type DsnRecipient, type NoticeContext, noticeQueueId, sendNotice, wantsNotice } from '@mailway/intake/notices';

/** RFC 3463 status of a recipient given up on by the operator: permanent, no more specific code fits. */
export const bounceStatus = '5.0.0';

/** How long the bounce's own hold on the content lasts if it never lets go (it dies halfway). */
const holdMs = 60 * 60_000;

export interface BounceResult extends ActionResult {
  /** The notice's queue id, or null when none was sent. */
  readonly notice: string | null;
  /** Recipients named in the notice. */
  readonly returned: readonly string[];
  /** Recipients given up on without a notice (null sender, NOTIFY). */
  readonly dropped: readonly string[];
}

export type BounceContext = Omit<NoticeContext, 'agent'>;

/** Return `queueId`'s unfinished recipients to its sender and delete its jobs. */
export async function bounceMessage(admin: QueueAdmin, queueId: string, context: BounceContext): Promise<BounceResult> {
  const detail = await admin.show(queueId);
  if (detail === null || !detail.jobs.some((j) => j.state !== null)) return { done: [], active: [], notice: null, returned: [], dropped: [] };

  // Hold the content for the notice while the jobs' references go (content a job carries is in hand already).
  const token = `bounce:${queueId}`;
  const { spool } = context;
  const carried = detail.carried ?? undefined;
  let held = true;
  let retained = false;
  if (carried === undefined) {
    try {
      await spool.retainOnce(detail.spoolId, token, 1);
      await spool.park(detail.spoolId, token, new Date(Date.now() + holdMs), 1);
      retained = true;
    } catch (error) {
      if (!(error instanceof SpoolNotFoundError)) throw error;
      held = false;
    }
  }

  try {
    // Delete; the recipients of the unfinished jobs deleted are the ones given up on.
    const removed = await admin.remove(queueId);
    const unfinished = new Set(detail.jobs.filter((j) => j.state !== null).map((j) => `${j.queue}|${j.jobId}`));
    const given = givenUp(removed.done.filter((j) => unfinished.has(`${j.queue}|${j.jobId}`)));
    const envelope = detail.envelope;
    const sender = envelope?.from ?? '';
    const byAddress = new Map((envelope?.recipients ?? []).map((r) => [r.address.toLowerCase(), r]));
    const owed = given.filter((address) => sender !== '' && wantsNotice(byAddress.get(address.toLowerCase()) ?? { notify: null }, 'failure'));
    const dropped = given.filter((address) => !owed.includes(address));
    context.targets.trace?.record(queueId, { type: 'operator', agent: 'admin', action: 'bounce', recipients: given });
    if (owed.length === 0 || envelope === null || !held) return { ...removed, notice: null, returned: [], dropped: given };

    // The notice, under an id that the same deletion always gives.
    const notice = noticeQueueId(queueId, `bounce|${removed.done.map((j) => j.jobId).join(',')}`);
    const last = lastAttempts(detail);
    const recipients = owed.map((address) => dsnRecipient(address, byAddress.get(address.toLowerCase()), last.get(address)));
    await sendNotice(notice, { queueId, spoolId: detail.spoolId, content: carried, envelope, origin: { receivedAt: detail.arrivedAt } }, recipients, { ...context, agent: 'relay' });
    return { ...removed, notice, returned: owed, dropped };
  } finally {
    if (retained) await spool.releaseOnce(detail.spoolId, token);
  }
}

/** The addresses the deleted jobs still had to handle, each once, in order. */
function givenUp(jobs: readonly ActedJob[]): string[] {
  const seen = new Map<string, string>();
  for (const j of jobs) for (const address of j.recipients) if (!seen.has(address.toLowerCase())) seen.set(address.toLowerCase(), address);
  return [...seen.values()];
}

/** Each recipient's latest outbound attempt. */
function lastAttempts(detail: MessageDetail): Map<string, AttemptRecord> {
  const last = new Map<string, AttemptRecord>();
  for (const j of detail.jobs) for (const a of j.progress?.last ?? []) last.set(a.address, a);
  return last;
}

/** A given-up recipient's block of the notice, with its last attempt's account when there was one. */
function dsnRecipient(address: string, original: EnvelopeRecipient | undefined, last: AttemptRecord | undefined): DsnRecipient {
  const why = 'returned to the sender by the mail system administrator before delivery';
  return {
    address,
    orcpt: original?.orcpt ?? null,
    action: 'failed',
    status: bounceStatus,
    remoteMta: null,
    remoteReply: null,
    detail: last === undefined ? why : `${why}; last attempt: ${last.remoteMta ?? 'no host'}: ${last.diagnostic}`,
    lastAttempt: last === undefined ? null : new Date(last.at),
    willRetryUntil: null,
  };
}
