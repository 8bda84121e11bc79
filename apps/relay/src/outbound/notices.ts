/**
 * Which notifications a delivery attempt owes the sender, and sending them. RFC 3461 decides
 * who asked for what: NOTIFY=NEVER wants nothing; an explicit NOTIFY list only what it names;
 * without NOTIFY, failures and delays are reported (Mailway sends the delay notice by default,
 * so that a sender does not learn of a problem days late), successes are not. A message from
 * the null sender (itself a notification) is never answered: that is how bounce loops end.
 *
 * Reads: the attempt's records and the message. Emits: notices planned with queue ids of their
 * own (recorded before they are sent), and each sent through the intake's hand-off as a new
 * message from `<>`, routed like any other.
 */
import { type AttemptRecord, type EnvelopeRecipient, type OutboundJob, type PendingNotice, newQueueId } from '@mailway/queue/jobs';
import { type HandoffTargets, handOffOnce } from '@mailway/queue/queues';
import type { Spool } from '@mailway/queue/spool';
import { type DsnAction, type DsnRecipient, buildDsn } from './dsn.js';

type NoticeKind = PendingNotice['kind'];

/** Whether `recipient` asked for (or by default gets) a notice of `kind`. */
export function wants(recipient: EnvelopeRecipient, kind: NoticeKind): boolean {
  const notify = recipient.notify;
  if (notify === 'NEVER') return false;
  if (notify === null) return kind !== 'success';
  return notify.includes(kind === 'failure' ? 'FAILURE' : kind === 'delay' ? 'DELAY' : 'SUCCESS');
}

/**
 * The notices owed for `outcomes`; `delayDue`: the delay warning's time has come;
 * `reportedOnward`: recipients delivered to a next hop that offers DSN, which took their NOTIFY
 * and reports success itself (RFC 3461 §6.2.1: no "relayed" notice then, or the sender gets two).
 */
export function planNotices(job: OutboundJob, outcomes: readonly AttemptRecord[], delayDue: boolean, reportedOnward: readonly string[]): PendingNotice[] {
  if (job.envelope.from === '') return [];
  const byAddress = new Map(job.envelope.recipients.map((r) => [r.address, r]));
  const owed = (kind: NoticeKind, state: AttemptRecord['state']): string[] =>
    outcomes.filter((r) => r.state === state && wants(byAddress.get(r.address) ?? { address: r.address, notify: null, orcpt: null }, kind)).map((r) => r.address);

  const notices: PendingNotice[] = [];
  const plan = (kind: NoticeKind, addresses: string[]): void => {
    if (addresses.length > 0) notices.push({ queueId: newQueueId(), kind, addresses });
  };
  plan('failure', owed('failure', 'failed'));
  if (delayDue) plan('delay', owed('delay', 'deferred'));
  plan('success', owed('success', 'delivered').filter((address) => !reportedOnward.includes(address)));
  return notices;
}

export interface NoticeContext {
  readonly hostname: string;
  readonly spool: Spool;
  readonly targets: HandoffTargets;
  /** Returned whole up to this size; larger originals as their header only. */
  readonly returnLimit: number;
  /** For delay notices: when Mailway gives up. */
  readonly expiresAt: Date;
}

/** Writes `notice` about `job` and hands it to the intake (safe to repeat). */
export async function sendNotice(notice: PendingNotice, job: OutboundJob, records: readonly AttemptRecord[], context: NoticeContext): Promise<void> {
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

  // The original: whole when small enough, else what is needed for its header.
  const { octets, complete } = await readPrefix(context.spool, job.spoolId, context.returnLimit);
  const dsn = buildDsn({
    reportingMta: context.hostname,
    to: job.envelope.from,
    queueId: job.queueId,
    envid: job.envelope.envid,
    arrivalDate: new Date(job.origin.receivedAt),
    recipients,
    original: octets,
    ret: complete ? job.envelope.ret : 'HDRS',
    returnLimit: context.returnLimit,
    now: new Date(),
  });

  await handOffOnce(
    context.targets,
    {
      queueId: notice.queueId,
      messageId: null,
      envelope: {
        from: '',
        recipients: [{ address: job.envelope.from, notify: null, orcpt: null }],
        // 8BITMIME only when needed: a peer without it would refuse the notice, which, from <>, is then dropped.
        body: dsn.some((octet) => octet > 0x7f) ? '8BITMIME' : '7BIT',
        smtputf8: /[^\x00-\x7f]/.test(job.envelope.from),
        ret: null,
        envid: null,
        requireTls: false,
      },
      origin: { agent: 'relay', client: null, user: null, tls: null, receivedAt: new Date().toISOString() },
    },
    dsn,
  );
}

/** The first `limit` octets of a spooled message (one more, to know whether it is all of it). */
async function readPrefix(spool: Spool, id: string, limit: number): Promise<{ octets: Buffer; complete: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of spool.read(id)) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) return { octets: Buffer.concat(chunks), complete: false };
  }
  return { octets: Buffer.concat(chunks), complete: true };
}
