/**
 * One recipient's delivery, shared by the queue worker and the LMTP server. Reads the
 * directory (where the recipient's mail goes) and the spool (the content); emits one of:
 * - a user: the message with Return-Path and Delivered-To prepended, stored once in the
 *   user's mailbox (key = the delivery job id), the "delivered" notice when the recipient asked
 *   for success notices, then the recipient's spool reference released;
 * - an alias: its targets back on `transfer` as a job derived from this one (deterministic
 *   id, one hop more, this address added to the visited path), after retaining one reference
 *   per target and before releasing the alias's own. An alias to several addresses (a list)
 *   answers NOTIFY=SUCCESS itself with an "expanded" notice, and its members are sent on
 *   without SUCCESS (RFC 3461 §6.2.7.3); an alias to one address passes NOTIFY on unchanged,
 *   so "delivered" comes from where the message ends;
 * - otherwise a PermanentFailure, keeping the spool reference (a bounce will need it). A loop
 *   (loop.ts) is one: a message that already has Delivered-To for the mailbox, an expansion
 *   past the hop limit, or targets already on the path, which are not sent round again (the
 *   others still are, and the alias's own reference stays with the failure).
 * Every step is idempotent, so a retried job after a crash at any point ends the same way.
 */
import type { Directory } from '@mailway/directory';
import { type MailboxFormat, type MailboxStore, QuotaExceededError, mailboxPath, mailboxUsage } from '@mailway/mailbox';
import { type DeliveryJob, type TransferJob, jobSpecs } from '@mailway/queue/jobs';
import { notifyAfterExpansion } from '@mailway/intake/notices';
import type { MailQueue } from '@mailway/queue/queues';
import { type Spool, isCarried, readContent, writeCarried } from '@mailway/queue/spool';
import type { TraceLog } from '@mailway/queue/trace';
import { deliveredToField, joinHeaderBlock, prependFields, readHeaderBlock, returnPathField } from '@mailway/smtp/message';
import { checkDeliveredTo, cycleOf, planExpansion } from './loop.js';
import { type NoticeSettings, reportSuccess } from './notices.js';
import { PermanentFailure } from './outcome.js';

export interface DeliveryTargets {
  readonly directory: Directory;
  readonly spool: Spool;
  readonly transfer: MailQueue<'transfer'>;
  readonly store: MailboxStore;
  readonly format: MailboxFormat;
  readonly root: string;
  readonly subaddressFolders: boolean;
  /** The folder of mail the relay quarantined for its sending domain's DMARC policy. */
  readonly junkFolder: string;
  /** Most hops (Received fields, plus one per expansion) a message may make (MAILWAY_HOPCOUNT_LIMIT). */
  readonly hopCountLimit: number;
  /** How notices to the sender are written (failure, delivered, expanded). */
  readonly notices: NoticeSettings;
  /** Where each recipient's outcome is traced (the worker and the LMTP server write it). */
  readonly trace?: TraceLog;
  /** Resolves once the writes made so far on the command connection are safe from a failover (replicas confirmed them). */
  readonly confirm?: () => Promise<void>;
}

/** What became of a recipient; `notice`: the queue id of the success notice sent for it, or null. */
export type Delivered =
  | { readonly kind: 'delivered'; readonly user: string; readonly folder: string | null; readonly file: string; readonly size: number; readonly stored: boolean; readonly notice: string | null }
  | { readonly kind: 'expanded'; readonly targets: readonly string[]; readonly transferJob: string; readonly notice: string | null };

/**
 * Deliver `job` (whose queue job id is `jobId`) to its recipient. `retry`: an earlier attempt
 * of this job may have run, so the mailbox looks for its copy first.
 */
export async function deliver(targets: DeliveryTargets, job: DeliveryJob, jobId: string, retry = true): Promise<Delivered> {
  const resolution = await targets.directory.resolve(job.recipient.address);
  if (resolution.kind === 'alias' && resolution.targets.length > 0) return expand(targets, job, jobId, resolution.targets);
  if (resolution.kind !== 'user') throw new PermanentFailure('unknown_recipient', `no local mailbox for ${job.recipient.address} (${resolution.kind})`);

  // The mailbox, and room in it: checked only once it is known that no earlier attempt stored
  // the message, whose copy counts against the quota too.
  const { spool, store, format } = targets;
  const path = mailboxPath(targets.root, resolution.user, format);
  const quota = resolution.quotaBytes;
  const checkQuota = async (): Promise<void> => {
    if (quota === null) return;
    const usage = await mailboxUsage(path, format);
    if (usage + job.size > quota) throw new QuotaExceededError(usage, quota, job.size);
  };

  // Store once, tell the sender if asked (the notice reads the content), then let go of this
  // recipient's reference. A retry that finds its copy stored sends the same notice, or none
  // when it had been queued.
  const message = checkedMessage(spool, job, resolution.user);
  // Quarantined mail goes to Junk whatever its sub-address says.
  const folder = job.origin.quarantine === true ? targets.junkFolder : targets.subaddressFolders ? resolution.folder : null;
  const result = await store.deliver(path, message, { key: jobId, folder, sender: job.from, retry, beforeWrite: checkQuota });
  const notice = await reportSuccess(targets, job, jobId, 'delivered', `delivered to the mailbox of ${resolution.user}`);
  await releaseReference(spool, job, jobId);
  return { kind: 'delivered', user: resolution.user, folder, ...result, notice };
}

/**
 * The message as stored for `mailbox`: Return-Path and Delivered-To, then the spooled content,
 * read only when the store writes it (a retry that finds its earlier copy reads nothing, not
 * even content released since). LoopDetected, before the first byte, when the message already
 * has Delivered-To for `mailbox`.
 */
async function* checkedMessage(spool: Spool, job: DeliveryJob, mailbox: string): AsyncGenerator<Buffer, void, undefined> {
  const split = await readHeaderBlock(readContent(spool, job), { maxHeaderBytes: Math.max(job.size, 1) });
  checkDeliveredTo(split.header, mailbox, job);
  yield* prependFields([returnPathField(job.from), deliveredToField(mailbox)], joinHeaderBlock(split));
}

/**
 * Sends an alias's targets back through `transfer`, handing over the content's references;
 * LoopDetected, once the others are on their way, for targets that would close a cycle.
 */
async function expand(targets: DeliveryTargets, job: DeliveryJob, jobId: string, all: readonly string[]): Promise<Delivered> {
  const { spool, transfer } = targets;
  const plan = planExpansion(job, all, targets.hopCountLimit);
  const addresses = plan.forward;
  // A list (more than one address) reports its own success; one address is a new name for it.
  const list = all.length > 1;
  const notify = list ? notifyAfterExpansion(job.recipient.notify) : job.recipient.notify;
  if (addresses.length === 0) throw cycleOf(plan);
  const transferJob: TransferJob = {
    queueId: job.queueId,
    spoolId: job.spoolId,
    size: job.size,
    messageId: job.messageId,
    envelope: {
      from: job.from,
      // RFC 3461 §4.2: the original recipient stays the alias (or what it already was).
      recipients: addresses.map((address) => ({ address, notify, orcpt: job.recipient.orcpt ?? { type: 'rfc822', address: job.recipient.address } })),
      // The MAIL FROM parameters travel on unchanged (RFC 3461 §4: RET and ENVID; BODY, REQUIRETLS).
      body: job.mailParams?.body ?? null,
      smtputf8: (job.mailParams?.smtputf8 ?? false) || /[^\x00-\x7f]/.test([job.from, ...addresses].join('')),
      ret: job.mailParams?.ret ?? null,
      envid: job.mailParams?.envid ?? null,
      requireTls: job.mailParams?.requireTls ?? false,
    },
    origin: job.origin,
    parent: jobId,
    hops: plan.hops,
    visited: [...plan.visited],
  };
  // A run after one that died once the targets were on their way (their job exists) must not
  // retain again: the targets may all be delivered and the content gone. Content carried in
  // this job is spooled for them instead.
  if (!(await transfer.queue.getJob(jobSpecs.transfer.jobId(transferJob)))) {
    if (isCarried(job)) await writeCarried(spool, job, addresses.length);
    else await spool.retainOnce(job.spoolId, `expand:${jobId}`, addresses.length);
  }
  const id = await transfer.add(transferJob);
  // The alias's own reference stays with the failure of the looping targets.
  if (plan.looping.length > 0) throw cycleOf(plan);
  const notice = list ? await reportSuccess(targets, job, jobId, 'expanded', `expanded to ${addresses.length} recipients`) : null;
  await releaseReference(spool, job, jobId);
  return { kind: 'expanded', targets: addresses, transferJob: id, notice };
}

/** Lets go of the recipient's spool reference; a job that carries its content holds none. */
export async function releaseReference(spool: Spool, job: DeliveryJob, jobId: string): Promise<void> {
  if (!isCarried(job)) await spool.releaseOnce(job.spoolId, jobId);
}
