/**
 * The hand-off every receiving agent makes: the message goes into the spool once (one
 * reference per recipient), then a `transfer` job referencing it goes on the queue. Only when
 * both are acknowledged by Redis may an SMTP session answer 250 (RFC 5321 §6.1).
 *
 * If the job cannot be added, the spooled copy is removed (best effort; an unclaimed spool
 * entry also expires on its own), so a failed hand-off leaves nothing behind.
 *
 * Behind replicas, `confirm` (WAIT) runs last: the hand-off counts only once the replicas hold
 * the spool entry and the job, so that a failover cannot lose a message already answered 250.
 * When they do not confirm in time the message stays queued (the primary may well keep it):
 * the client's retry may then bring a second copy, which RFC 5321 §6.1 prefers to a loss.
 */
import type { TransferJob } from '@mailway/queue/jobs';
import type { MailQueue } from '@mailway/queue/queues';
import { type Spool, SpoolExistsError } from '@mailway/queue/spool';
import type { TraceLog } from '@mailway/queue/trace';

export interface HandoffTargets {
  readonly spool: Spool;
  readonly transfer: MailQueue<'transfer'>;
  /** Where a message's trace goes (its `accepted` event, notices about it); none: not traced. */
  readonly trace?: TraceLog;
  /** Resolves once the writes made so far are safe from a failover (replicas confirmed them); throws when not. */
  readonly confirm?: () => Promise<void>;
}

/** Spool `content` under the job's queue id and enqueue its transfer job; resolves with the size in octets. */
export async function handOff(targets: HandoffTargets, job: Omit<TransferJob, 'spoolId' | 'size'>, content: Buffer | AsyncIterable<Uint8Array>): Promise<number> {
  // Store the content, one reference per recipient still to be delivered.
  const spoolId = job.queueId;
  const entry = await targets.spool.write(spoolId, content, { refs: job.envelope.recipients.length });

  // Enqueue; undo the spool write if the job did not make it.
  try {
    await targets.transfer.add({ ...job, spoolId, size: entry.size });
  } catch (error) {
    await targets.spool.remove(spoolId).catch(() => {});
    throw error;
  }
  await targets.confirm?.();
  return entry.size;
}

/**
 * The same hand-off for a message Mailway writes itself under a queue id chosen in advance (a
 * delivery status notification): safe to repeat after a crash. Content already spooled under
 * the id is kept (a spool write is all or nothing), and the transfer job's deterministic id
 * makes a second add change nothing. Resolves with the size in octets.
 */
export async function handOffOnce(targets: HandoffTargets, job: Omit<TransferJob, 'spoolId' | 'size'>, content: Buffer): Promise<number> {
  const spoolId = job.queueId;
  try {
    await targets.spool.write(spoolId, content, { refs: job.envelope.recipients.length });
  } catch (error) {
    if (!(error instanceof SpoolExistsError)) throw error;
  }
  await targets.transfer.add({ ...job, spoolId, size: content.length });
  await targets.confirm?.();
  return content.length;
}
