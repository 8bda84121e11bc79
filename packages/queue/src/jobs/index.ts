/**
 * @module @mailway/queue/jobs
 *
 * The contract between agents: queue names, zod schemas of the job payloads (a schema and its
 * inferred type share a name), queue ids and deterministic job ids. Imports neither BullMQ nor
 * ioredis, so schema-only consumers stay light.
 */
export { DsnNotify, EnvelopeRecipient, Envelope } from './envelope.js';
export { Origin } from './origin.js';
export { TransferJob, DeliveryJob, OutboundJob, OutboundProgress, AttemptRecord, PendingNotice } from './payloads.js';
export { QueueId, queueIdPattern, newQueueId, queueIdTime, transferJobId, deliveryJobId, outboundJobId } from './ids.js';
export { queueNames, jobSpecs, type QueueName, type JobTypes, type JobSpec } from './registry.js';
