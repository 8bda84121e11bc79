/**
 * A recipient's outcome in its message's trace, as the queue worker and the LMTP server both
 * record it: `delivered` with the mailbox file, or `expanded` with the alias's targets. A copy
 * found already stored (a retried job) is not traced twice.
 */
import type { DeliveryJob } from '@mailway/queue/jobs';
import type { Delivered, DeliveryTargets } from './deliver.js';

export function traceOutcome(targets: Pick<DeliveryTargets, 'trace'>, job: DeliveryJob, result: Delivered): void {
  if (result.kind === 'expanded') targets.trace?.record(job.queueId, { type: 'expanded', agent: 'delivery', recipient: job.recipient.address, targets: [...result.targets] });
  else if (result.stored) targets.trace?.record(job.queueId, { type: 'delivered', agent: 'delivery', recipient: job.recipient.address, file: result.file });
}
