/**
 * The job payloads: what one agent hands to the next through a queue. Jobs carry a spool
 * reference (`spoolId`), not the message body; only a delivery job may carry a small message
 * itself (see spool/carried.ts).
 */
import { z } from 'zod';
import { Envelope, EnvelopeRecipient } from './envelope.js';
import { QueueId } from './ids.js';
import { Origin } from './origin.js';

/** Fields every job about one spooled message carries. */
const spooledMessage = {
  queueId: QueueId,
  spoolId: z.string().min(1),
  /** Octets in the spool. */
  size: z.number().int().nonnegative(),
  /** The Message-ID header value, for logs; null when the message has none. */
  messageId: z.string().nullable(),
};

/**
 * Loop detection, carried from job to job so that re-injecting a message never rewrites it:
 * `hops`, its hop count (RFC 5321 §6.3: the Received fields counted at intake, plus one per
 * alias expansion since); `visited`, the addresses (lower-case) whose alias expansion made this
 * job, in order, so that a cycle is cut at its first repeat. Both are absent on jobs queued
 * before they existed, which count as zero hops and no expansion.
 */
const loopGuard = {
  hops: z.number().int().nonnegative().optional(),
  visited: z.array(z.string().min(1)).optional(),
};

/** Queue `transfer`: one accepted message with its whole envelope, for the relay to route. */
export const TransferJob = z.object({
  ...spooledMessage,
  envelope: Envelope,
  origin: Origin,
  /**
   * The job this one was derived from (an alias expanded by the delivery agent sends its
   * targets back through `transfer`); absent for mail received from a client. Part of the job
   * id, so each expansion is queued once however often it is retried.
   */
  parent: z.string().min(1).optional(),
  ...loopGuard,
});
export type TransferJob = z.infer<typeof TransferJob>;

/** Queue `delivery`: one local recipient of a message, for the delivery agent. */
export const DeliveryJob = z.object({
  ...spooledMessage,
  /** Reverse-path without <> ('' for the null sender), for Return-Path. */
  from: z.string(),
  /** The local recipient as addressed (before alias expansion). */
  recipient: EnvelopeRecipient,
  origin: Origin,
  /**
   * The derived transfer job this recipient came from (an expanded alias); absent for the
   * message's own recipients. Part of the job id, so an alias target that is also a recipient
   * of the message gets a job (and a spool reference) of its own.
   */
  parent: z.string().min(1).optional(),
  ...loopGuard,
  /**
   * The MAIL FROM parameters the message was accepted with (BODY, SMTPUTF8, RET, ENVID,
   * REQUIRETLS), so that an alias expanded to other addresses passes them on unchanged (RFC
   * 3461 §4, RFC 6152, RFC 8689). Absent on jobs queued before it existed.
   */
  mailParams: Envelope.omit({ from: true, recipients: true }).optional(),
  /**
   * The message itself (latin1, one character per octet) when it travels in the job instead of
   * the spool: a small message for one local recipient. The job then holds no spool reference;
   * `spoolId` names the entry an alias expansion writes for its targets.
   */
  content: z.string().optional(),
});
export type DeliveryJob = z.infer<typeof DeliveryJob>;

/** One recipient's latest delivery attempt, as an operator and a DSN see it. */
export const AttemptRecord = z.object({
  address: z.string().min(1),
  at: z.iso.datetime(),
  state: z.enum(['delivered', 'deferred', 'failed']),
  /** RFC 3463 status. */
  status: z.string(),
  /** The remote reply, or Mailway's own account when no server gave one. */
  diagnostic: z.string(),
  /** The host that answered (its name), null when none did. */
  remoteMta: z.string().nullable(),
  /** True when `diagnostic` is the remote server's reply. */
  remoteReply: z.boolean(),
  /** TLS protocol of the session, null in plaintext or without a session. */
  tls: z.string().nullable(),
});
export type AttemptRecord = z.infer<typeof AttemptRecord>;

/** A notification the outbound worker owes the sender for one attempt, with its own queue id (so it is sent once). */
export const PendingNotice = z.object({
  queueId: QueueId,
  kind: z.enum(['failure', 'delay', 'success']),
  addresses: z.array(z.string().min(1)).min(1),
});
export type PendingNotice = z.infer<typeof PendingNotice>;

/**
 * Where an outbound job stands between attempts. An attempt's results are recorded here
 * (`settling`) before any of their effects (notices, spool releases): a worker that dies in
 * between finishes them on the next run instead of trying the recipients again.
 */
export const OutboundProgress = z.object({
  attempts: z.number().int().nonnegative(),
  /** Recipients still to be delivered. */
  pending: z.array(EnvelopeRecipient),
  /** The delay notice was sent. */
  warned: z.boolean(),
  /** Each recipient's latest attempt. */
  last: z.array(AttemptRecord),
  settling: z
    .object({
      outcomes: z.array(AttemptRecord),
      notices: z.array(PendingNotice),
      /** When to try the deferred recipients again (ms since the epoch); null when none is left. */
      retryAt: z.number().nullable(),
    })
    .nullable(),
});
export type OutboundProgress = z.infer<typeof OutboundProgress>;

/** Queue `outbound`: the recipients of a message in one remote domain, for the outbound worker. */
export const OutboundJob = z.object({
  ...spooledMessage,
  /** The transfer job these recipients came from (with `domain`, the job id). */
  parent: z.string().min(1),
  /** The destination domain, lower-case (ASCII, A-labels). */
  domain: z.string().min(1),
  envelope: Envelope,
  origin: Origin,
  /** Absent until the first attempt. */
  progress: OutboundProgress.optional(),
  /** Held by an operator (`mailway queue hold`): not tried until released. */
  held: z.literal(true).optional(),
  /**
   * Mail for a domain whose site pulls it (ETRN, ODMR): `waiting` until the site asks, `asked`
   * once it has (the next run makes one attempt, after which what is left waits again).
   */
  pull: z.enum(['waiting', 'asked']).optional(),
  /**
   * A send time reserved under the destination's rate limit for the attempt after `attempts`
   * attempts (ms since the epoch): the job waited for it and goes without reserving again.
   */
  paced: z.object({ attempts: z.number().int().nonnegative(), at: z.number() }).optional(),
});
export type OutboundJob = z.infer<typeof OutboundJob>;
