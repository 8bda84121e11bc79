/**
 * Jobs as the agents queue them, for the queue command tests: a recipient without DSN
 * parameters, and the outbound job the router makes of a transfer job for one domain.
 */
import type { EnvelopeRecipient, OutboundJob, TransferJob } from '@mailway/queue/jobs';

export const rcpt = (address: string, notify: EnvelopeRecipient['notify'] = null): EnvelopeRecipient => ({ address, notify, orcpt: null });

/** The outbound job for `t`'s recipients at `domain`, as the transfer worker adds it. */
export function outboundJob(t: TransferJob, domain: string): OutboundJob {
  const recipients = t.envelope.recipients.filter((r) => r.address.endsWith(`@${domain}`));
  return { queueId: t.queueId, spoolId: t.spoolId, size: t.size, messageId: t.messageId, parent: t.queueId, domain, envelope: { ...t.envelope, recipients }, origin: t.origin };
}
