/**
 * The end-of-data hook every queueing entry point shares (submission on 587/465, the relay on
 * 25): read the header block, refuse a mail loop, let the agent check the message and write
 * its fields (its own policy: sender rules, fix-ups, DKIM, verification), wait while delivery
 * is behind (flow.ts), then hand the message off — spool, then the transfer job, or the
 * delivery job of a message for one local recipient (handoff.ts) — and answer 250 with the
 * queue id only once both are durable. Every way it can end short of the queue is a row of
 * outcome.ts.
 *
 * Reads: the session, the transaction, the message as it streams in. Emits: the reply, one log
 * line per message (`queued`, or why not), the intake metrics.
 */
import type { Origin } from '@mailway/queue/jobs';
import { newQueueId } from '@mailway/queue/jobs';
import type { HookResult, MessageBody, Session, Transaction } from '@mailway/smtp/server';
import { type Arrival, readArrival } from './arrival.js';
import { envelopeOf, originOf } from './envelope.js';
import { type InflowGate, openGate } from './flow.js';
import { type HandoffTargets, handOff } from './handoff.js';
import { type IntakeFailure, intakeFailureOf, intakeOutcomes, queuedReply } from './outcome.js';

export interface IntakeLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface IntakeMetrics {
  readonly messages: { inc(): void };
  readonly bytes: { inc(value: number): void };
  readonly rejections: { inc(labels: { reason: string }): void };
  readonly handoffSeconds: { observe(seconds: number): void };
  /** Messages that waited for the queue backlog to fall (flow.ts), and the seconds they waited. */
  readonly inflowDelays?: { inc(): void };
  readonly inflowDelaySeconds?: { inc(value: number): void };
  /** Recipients routed at hand-off (queued straight for delivery), by route. */
  readonly routed?: { inc(labels: { route: 'local' | 'remote' }, value?: number): void };
}

export interface QueueIntakeOptions {
  readonly agent: Origin['agent'];
  /** Most Received fields a message may carry, this hop's own included (MAILWAY_HOPCOUNT_LIMIT). */
  readonly hopCountLimit: number;
  readonly targets: HandoffTargets;
  /** Waits while the queue backlog is high (MAILWAY_IN_FLOW_DELAY); none: never waits. */
  readonly inflow?: InflowGate;
  readonly logger: IntakeLogger;
  readonly metrics: IntakeMetrics;
}

/** A message at end of data, as the agent's policy sees it. */
export interface Incoming extends Arrival {
  readonly session: Session;
  readonly transaction: Transaction;
  readonly queueId: string;
  readonly date: Date;
  readonly from: string;
  readonly recipients: readonly string[];
  /** The fields of this message's log lines. */
  readonly log: Readonly<Record<string, unknown>>;
}

/** What the agent decided: refuse (it has logged why), or queue this content. */
export type Prepared =
  | { readonly kind: 'refused'; readonly reason: string; readonly reply: HookResult }
  | {
      readonly kind: 'queue';
      /** The message as it goes on: the agent's fields, then the header block and body. */
      readonly content: Buffer | AsyncIterable<Uint8Array>;
      readonly messageId: string | null;
      /** The authenticated identity recorded with the job. */
      readonly user: string | null;
      /** More fields for the `queued` line. */
      readonly logFields?: Readonly<Record<string, unknown>>;
      /** The sending domain's DMARC policy asked for quarantine: recorded with the origin for the delivery agent. */
      readonly quarantine?: boolean;
      /** Run once the message is queued (a rate count, a deferred warning). */
      readonly queued?: () => void;
    };

/** The agent's part. */
export interface IntakePolicy {
  /** The envelope addresses as this agent writes them; '' for the null reverse-path. */
  addresses(session: Session, transaction: Transaction): { readonly from: string; readonly recipients: readonly string[] };
  /** Fields that identify the session in this agent's log lines. */
  logFields(session: Session): Readonly<Record<string, unknown>>;
  prepare(incoming: Incoming): Promise<Prepared>;
}

/** The onData hook for `policy`. */
export function queueIntake(options: QueueIntakeOptions, policy: IntakePolicy): (session: Session, transaction: Transaction, body: MessageBody) => Promise<HookResult> {
  const { logger, metrics } = options;
  const inflow = options.inflow ?? openGate;

  return async (session, transaction, body) => {
    const queueId = newQueueId();
    const date = new Date();
    const { from, recipients } = policy.addresses(session, transaction);
    const log = { session: session.id, queueId, ...policy.logFields(session), from, recipients: recipients.length };

    try {
      const arrival = await readArrival(body, true);
      if (arrival.hops > options.hopCountLimit) {
        logger.warn({ ...log, hops: arrival.hops, limit: options.hopCountLimit }, 'message refused: too many hops (routing loop)');
        return ended('too_many_hops');
      }
      const prepared = await policy.prepare({ ...arrival, session, transaction, queueId, date, from, recipients, log });
      if (prepared.kind === 'refused') {
        metrics.rejections.inc({ reason: prepared.reason });
        return prepared.reply;
      }

      // Taken no faster than mail is delivered (flow.ts).
      const waitedMs = await inflow.pass();
      if (waitedMs > 0) {
        metrics.inflowDelays?.inc();
        metrics.inflowDelaySeconds?.inc(waitedMs / 1000);
      }

      // Hand off: spool, then the transfer job (or, for one local recipient, its delivery job).
      const started = process.hrtime.bigint();
      const job = { queueId, messageId: prepared.messageId, envelope: envelopeOf(transaction, from, recipients), origin: { ...originOf(session, options.agent, prepared.user, date), ...(prepared.quarantine === true ? { quarantine: true as const } : {}) }, hops: arrival.hops };
      const { size, local } = await handOff(options.targets, job, prepared.content);
      metrics.handoffSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      const accepted = { type: 'accepted' as const, agent: options.agent, client: session.remote.address, helo: session.helo?.name ?? null, tls: session.tls?.protocol ?? null, user: prepared.user, from, recipients: [...recipients], size, messageId: prepared.messageId };
      if (local === null) options.targets.trace?.record(queueId, accepted);
      else {
        options.targets.trace?.record(queueId, accepted, { type: 'routed', agent: options.agent, recipient: local.address, route: 'local' });
        metrics.routed?.inc({ route: 'local' });
      }

      // Account for it: one line per message.
      metrics.messages.inc();
      metrics.bytes.inc(size);
      prepared.queued?.();
      logger.info({ ...log, size, messageId: prepared.messageId, tls: session.tls?.protocol ?? null, route: local === null ? 'transfer' : 'local', ...(waitedMs > 0 ? { inflowDelayMs: waitedMs } : {}), ...prepared.logFields }, 'queued');
      return queuedReply(queueId);
    } catch (error) {
      const failure = intakeFailureOf(error, body.errored !== null);
      if (failure === 'header_too_large') logger.info(log, 'message refused: header too large');
      if (failure === 'not_queued') logger.error({ ...log, err: error }, 'message not queued');
      if (failure === 'not_replicated') logger.warn({ ...log, err: error }, 'message not confirmed by redis replicas; answered 451 (it may still be delivered)');
      return ended(failure);
    }
  };

  function ended(failure: IntakeFailure): HookResult {
    const { reply, reason } = intakeOutcomes[failure];
    if (reason !== null) metrics.rejections.inc({ reason });
    return reply;
  }
}

/** The header block followed by the rest of the body, as one stream. */
export async function* headerThenRest(header: Buffer, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer, void, undefined> {
  yield header;
  yield* rest;
}

/** A stream read whole (a signature or a check that needs the whole message). */
export async function readWhole(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}
