/**
 * The hand-off every receiving agent makes: the message goes into the spool once (one
 * reference per recipient), then a `transfer` job referencing it goes on the queue. Only when
 * both are acknowledged by Redis may an SMTP session answer 250 (RFC 5321 §6.1).
 *
 * A message for one local recipient skips the transfer job when the agent gives `local`: its
 * delivery job goes on the queue at once, as the relay's transfer worker would have added it
 * (same payload, same job id). A small one (up to the spool's `carriedLimit`) travels inside
 * that job and is not spooled at all: the job add alone makes it durable (spool/carried.ts).
 * A larger one is spooled, the routing running while it is written. Several
 * recipients keep the transfer job even when all are local: their jobs must be queued all or
 * none, which one job add gives and BullMQ's bulk add (a pipeline, not a transaction) does not.
 * The entry is claimed once the job is queued, without waiting: a claim that never lands leaves
 * an entry that its delivery job releases, or its write TTL removes, as an unrouted one would be.
 * That delivery job is deleted once it completes rather than kept a day: the day lets a
 * transfer job run again after a crash find the delivery jobs it already added, and this one has
 * no transfer job; nothing else adds its id (each message gets a queue id of its own).
 *
 * If the job cannot be added, the spooled copy is removed (best effort; an unclaimed spool
 * entry also expires on its own), so a failed hand-off leaves nothing behind.
 *
 * Behind replicas, `confirm` (WAIT) runs last: the hand-off counts only once the replicas hold
 * the spool entry and the job, so that a failover cannot lose a message already answered 250.
 * When they do not confirm in time the message stays queued (the primary may well keep it):
 * the client's retry may then bring a second copy, which RFC 5321 §6.1 prefers to a loss.
 */
import type { Directory } from '@mailway/directory';
import type { DeliveryJob, EnvelopeRecipient, TransferJob } from '@mailway/queue/jobs';
import type { MailQueue } from '@mailway/queue/queues';
import { type Spool, carriedLimit, carry, writeIfAbsent } from '@mailway/queue/spool';
import type { TraceLog } from '@mailway/queue/trace';
import { readUpTo } from './read-up-to.js';
import { routeRecipients } from './route.js';

export interface HandoffTargets {
  readonly spool: Spool;
  readonly transfer: MailQueue<'transfer'>;
  /** Where a message's trace goes (its `accepted` event, notices about it); none: not traced. */
  readonly trace?: TraceLog;
  /** Resolves once the writes made so far are safe from a failover (replicas confirmed them); throws when not. */
  readonly confirm?: () => Promise<void>;
  /** Where mail for one local recipient goes without a transfer job; none: every message takes the transfer job. */
  readonly local?: LocalTargets;
}

/** What an agent needs to queue local mail straight for delivery. */
export interface LocalTargets {
  /** Which domains are local (the same directory the relay routes with). */
  readonly directory: Directory;
  readonly delivery: MailQueue<'delivery'>;
}

/** A hand-off as it happened: the size in octets, and the recipient queued straight for delivery (null: a transfer job). */
export interface Handoff {
  readonly size: number;
  readonly local: EnvelopeRecipient | null;
}

/** Spool `content` under the job's queue id and enqueue its transfer job, or its delivery job when its one recipient is local. */
export async function handOff(targets: HandoffTargets, job: Omit<TransferJob, 'spoolId' | 'size'>, content: Buffer | AsyncIterable<Uint8Array>): Promise<Handoff> {
  const spoolId = job.queueId;
  const { recipients } = job.envelope;
  // Route while the content is stored (a failed lookup only means the transfer job routes it).
  const routing = targets.local === undefined || job.parent !== undefined ? null : oneLocal(targets.local.directory, recipients);
  void routing?.catch(() => {});

  // A small message for one local recipient travels in its delivery job: nothing is spooled.
  let body = content;
  if (routing !== null && targets.local !== undefined && recipients.length === 1) {
    const read = await readUpTo(content, carriedLimit);
    body = read.content;
    const local = read.small === null ? null : await routing.catch(() => null);
    if (read.small !== null && local !== null) {
      await targets.local.delivery.add({ ...deliveryJob(job, spoolId, read.small.length, local), content: carry(read.small) }, { keepCompleted: false });
      await targets.confirm?.();
      return { size: read.small.length, local };
    }
  }

  // Store the content, one reference per recipient still to be delivered.
  const entry = await targets.spool.write(spoolId, body, { refs: recipients.length });
  const local = routing === null ? null : await routing.catch(() => null);

  // Enqueue; undo the spool write if the job did not make it.
  try {
    if (local !== null && targets.local !== undefined) await targets.local.delivery.add(deliveryJob(job, spoolId, entry.size, local), { keepCompleted: false });
    else await targets.transfer.add({ ...job, spoolId, size: entry.size });
  } catch (error) {
    await targets.spool.remove(spoolId).catch(() => {});
    throw error;
  }
  // Owned by the delivery job from now on (see above: not waited for).
  if (local !== null) void targets.spool.claim(spoolId).catch(() => {});
  await targets.confirm?.();
  return { size: entry.size, local };
}

/** The one recipient, when the message has one and it is local; otherwise null (the transfer worker routes it). */
async function oneLocal(directory: Directory, recipients: readonly EnvelopeRecipient[]): Promise<EnvelopeRecipient | null> {
  if (recipients.length !== 1) return null;
  const routes = await routeRecipients(directory, recipients);
  return routes.local[0] ?? null;
}

/** The delivery job the transfer worker would add for `recipient` of a message it routed. */
function deliveryJob(job: Omit<TransferJob, 'spoolId' | 'size'>, spoolId: string, size: number, recipient: EnvelopeRecipient): DeliveryJob {
  const { queueId, messageId, origin, hops, visited } = job;
  const { from, recipients: _recipients, ...mailParams } = job.envelope;
  return { queueId, spoolId, size, messageId, from, recipient, origin, hops, visited, mailParams };
}

/**
 * The same hand-off for a message Mailway writes itself under a queue id chosen in advance (a
 * delivery status notification): safe to repeat after a crash. Content already spooled under
 * the id is kept (a spool write is all or nothing), and the transfer job's deterministic id
 * makes a second add change nothing. Resolves with the size in octets.
 */
export async function handOffOnce(targets: HandoffTargets, job: Omit<TransferJob, 'spoolId' | 'size'>, content: Buffer): Promise<number> {
  const spoolId = job.queueId;
  await writeIfAbsent(targets.spool, spoolId, content, { refs: job.envelope.recipients.length });
  await targets.transfer.add({ ...job, spoolId, size: content.length });
  await targets.confirm?.();
  return content.length;
}
