/**
 * A message's trace events: what each agent did with it, in one record per message (see
 * log.ts). Every event names its agent and time; the rest depends on its type. The record is
 * for people (`mailway trace`, the dashboard), not a contract between agents: a field an agent
 * does not know is kept, a reader shows what it understands.
 */
import { z } from 'zod';

export const traceEventTypes = [
  /** An agent took the message in (or Mailway wrote it: a notice). */
  'accepted',
  /** The router sent recipients to local delivery or to an outbound job. */
  'routed',
  /** A recipient was delivered: to a mailbox file, or a next hop took it. */
  'delivered',
  /** A recipient's attempt failed for now; it is tried again. */
  'deferred',
  /** A recipient failed for good. */
  'failed',
  /** An alias sent the message on to its targets. */
  'expanded',
  /** A notice about the message was queued for its sender. */
  'notice',
  /** An operator acted on the message (retry, hold, release, delete, bounce). */
  'operator',
] as const;
export type TraceEventType = (typeof traceEventTypes)[number];

export const TraceEvent = z.looseObject({
  type: z.enum(traceEventTypes),
  agent: z.enum(['submission', 'relay', 'delivery', 'admin']),
  /** When the agent recorded it (its own clock). */
  at: z.iso.datetime(),
  /** The recipient it is about, when one. */
  recipient: z.string().optional(),
  /** accepted: the client's address, HELO name, TLS protocol, authenticated user; the envelope. */
  client: z.string().nullable().optional(),
  helo: z.string().nullable().optional(),
  tls: z.string().nullable().optional(),
  user: z.string().nullable().optional(),
  from: z.string().optional(),
  recipients: z.array(z.string()).optional(),
  size: z.number().optional(),
  messageId: z.string().nullable().optional(),
  /** accepted (a notice): the message it is about. */
  about: z.string().optional(),
  /** routed: where to (`local`, or the destination domain of an outbound job). */
  route: z.string().optional(),
  /** delivered/deferred/failed: the answering host and its reply (or Mailway's own account). */
  remote: z.string().nullable().optional(),
  reply: z.string().optional(),
  status: z.string().optional(),
  attempt: z.number().optional(),
  /** delivered: the mailbox file. */
  file: z.string().optional(),
  /** expanded: the alias's targets. */
  targets: z.array(z.string()).optional(),
  /** notice: its queue id and kind; operator: the action. */
  notice: z.string().optional(),
  kind: z.string().optional(),
  action: z.string().optional(),
});
export type TraceEvent = z.infer<typeof TraceEvent>;

/** An event as an agent hands it over: its time is filled in when left out. */
export type TraceEventInput = Omit<TraceEvent, 'at'> & { at?: string };
