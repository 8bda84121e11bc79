/**
 * Which notifications a delivery attempt owes the sender, and sending them. RFC 3461 decides
 * who asked for what: NOTIFY=NEVER wants nothing; an explicit NOTIFY list only what it names;
 * without NOTIFY, failures and delays are reported (Mailway sends the delay notice by default,
 * so that a sender does not learn of a problem days late), successes are not. A message from
 * the null sender (itself a notification) is never answered: that is how bounce loops end.
 *
 * Reads: the attempt's records and the message. Emits: notices planned with queue ids of their
 * own (recorded before they are sent), each written and handed to the intake by
 * `@mailway/intake/notices` as a new message from `<>`, routed like any other.
 */
import { type AttemptRecord, type OutboundJob, type PendingNotice, newQueueId } from '@mailway/queue/jobs';
import { type DsnAction, type DsnRecipient, type NoticeContext, sendNotice, wantsNotice } from '@mailway/intake/notices';

type NoticeKind = PendingNotice['kind'];

/**
 * The notices owed for `outcomes`; `delayDue`: the delay warning's time has come;
 * `reportedOnward`: recipients delivered to a next hop that offers DSN, which took their NOTIFY
 * and reports success itself (RFC 3461 §6.2.1: no "relayed" notice then, or the sender gets two).
 */
export function planNotices(job: OutboundJob, outcomes: readonly AttemptRecord[], delayDue: boolean, reportedOnward: readonly string[]): PendingNotice[] {
  if (job.envelope.from === '') return [];
  const byAddress = new Map(job.envelope.recipients.map((r) => [r.address, r]));
  const owed = (kind: NoticeKind, state: AttemptRecord['state']): string[] =>
    outcomes.filter((r) => r.state === state && wantsNotice(byAddress.get(r.address) ?? { notify: null }, kind)).map((r) => r.address);

  const notices: PendingNotice[] = [];
  const plan = (kind: NoticeKind, addresses: string[]): void => {
    if (addresses.length > 0) notices.push({ queueId: newQueueId(), kind, addresses });
  };
  plan('failure', owed('failure', 'failed'));
  if (delayDue) plan('delay', owed('delay', 'deferred'));
  plan('success', owed('success', 'delivered').filter((address) => !reportedOnward.includes(address)));
  return notices;
}

export interface OutboundNoticeContext extends NoticeContext {
  /** For delay notices: when Mailway gives up. */
  readonly expiresAt: Date;
}

/** Writes `notice` about `job` and hands it to the intake (safe to repeat). */
export async function sendOutboundNotice(notice: PendingNotice, job: OutboundJob, records: readonly AttemptRecord[], context: OutboundNoticeContext): Promise<void> {
  const byAddress = new Map(job.envelope.recipients.map((r) => [r.address, r]));
  const action: Record<NoticeKind, DsnAction> = { failure: 'failed', delay: 'delayed', success: 'relayed' };
  const recipients: DsnRecipient[] = notice.addresses.map((address) => {
    const record = records.find((r) => r.address === address);
    const original = byAddress.get(address);
    return {
      address,
      orcpt: original?.orcpt ?? null,
      action: action[notice.kind],
      status: record?.status ?? '4.0.0',
      remoteMta: record?.remoteMta ?? null,
      remoteReply: record?.remoteReply ? record.diagnostic : null,
      detail: record?.diagnostic ?? 'no attempt recorded',
      lastAttempt: record ? new Date(record.at) : null,
      willRetryUntil: notice.kind === 'delay' ? context.expiresAt : null,
    };
  });
  await sendNotice(notice.queueId, job, recipients, context);
}
