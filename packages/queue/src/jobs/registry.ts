/**
 * The queues and, for each, its payload schema and job-id rule: one typed table that both the
 * producer (validate, derive the id) and the worker (parse) read.
 */
import type { z } from 'zod';
import { deliveryJobId, outboundJobId, transferJobId } from './ids.js';
import { DeliveryJob, OutboundJob, TransferJob } from './payloads.js';

/** The queue names. */
export const queueNames = { transfer: 'transfer', delivery: 'delivery', outbound: 'outbound' } as const;
export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** The payload type of each queue. */
export interface JobTypes {
  transfer: TransferJob;
  delivery: DeliveryJob;
  outbound: OutboundJob;
}

/** What a queue's jobs look like and how their deterministic id is derived. */
export interface JobSpec<N extends QueueName> {
  readonly schema: z.ZodType<JobTypes[N]>;
  readonly jobId: (data: JobTypes[N]) => string;
}

/** The table: one entry per queue. */
export const jobSpecs: { readonly [N in QueueName]: JobSpec<N> } = {
  transfer: { schema: TransferJob, jobId: (data) => transferJobId(data.queueId, data.parent) },
  delivery: { schema: DeliveryJob, jobId: (data) => deliveryJobId(data.queueId, data.recipient.address, data.parent) },
  outbound: { schema: OutboundJob, jobId: (data) => outboundJobId(data.queueId, data.parent, data.domain) },
};
