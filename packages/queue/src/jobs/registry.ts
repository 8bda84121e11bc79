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
  /**
   * Retries of a run that threw, where the queue's default few would end a job too early. The
   * `capped` backoff doubles from `delay` up to an hour (see queues/backoff.ts).
   */
  readonly retry?: { readonly attempts: number; readonly backoff: { readonly type: 'capped'; readonly delay: number } };
}

/** The table: one entry per queue. */
export const jobSpecs: { readonly [N in QueueName]: JobSpec<N> } = {
  transfer: { schema: TransferJob, jobId: (data) => transferJobId(data.queueId, data.parent) },
  delivery: { schema: DeliveryJob, jobId: (data) => deliveryJobId(data.queueId, data.recipient.address, data.parent) },
  // An outbound job's delivery outcomes reschedule it themselves; a run that throws (Redis gone,
  // a disk error) is retried for longer than any queue lifetime, so that the lifetime alone
  // decides when a message is returned.
  outbound: { schema: OutboundJob, jobId: (data) => outboundJobId(data.queueId, data.parent, data.domain), retry: { attempts: 500, backoff: { type: 'capped', delay: 30_000 } } },
};
