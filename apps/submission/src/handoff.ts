/**
 * The hand-off to the relay agent: the message goes into the spool once, then a `transfer`
 * job referencing it goes on the queue. Only when both are acknowledged by Redis (durable,
 * with AOF appendfsync always) may the session answer 250 (RFC 5321 §6.1).
 *
 * If the job cannot be added, the spooled copy is removed (best effort; an unclaimed spool
 * entry also expires on its own), so a failed hand-off leaves nothing behind.
 */
import type { MailQueue } from '@mailway/queue/queues';
import type { Spool } from '@mailway/queue/spool';
import type { TransferJob } from '@mailway/queue/jobs';

export interface HandoffTargets {
  readonly spool: Spool;
  readonly transfer: MailQueue<'transfer'>;
}

/** Spool `content` and enqueue its transfer job; resolves with the queued size in octets. */
export async function handOff(
  targets: HandoffTargets,
  job: Omit<TransferJob, 'spoolId' | 'size'>,
  content: Buffer | AsyncIterable<Uint8Array>,
): Promise<number> {
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
  return entry.size;
}
