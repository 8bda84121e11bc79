/**
 * What a command handler, and the message-data phase, may see of its session and do to it:
 * queue replies, consult hooks, move the session from state to state. The connection implements
 * these; commands and body.ts depend on these interfaces, never on the connection that
 * dispatches to them (no import cycle: see no-cycles.test.ts).
 *
 * Reads: nothing. Emits: types only.
 */
import type { Extensions } from '../address/index.js';
import type { Reply } from '../reply/reply.js';
import type { ServerConfig } from './config.js';
import type { SaslExchange } from './sasl/mechanism.js';
import type { Handover, TakeSocket } from './extensions.js';
import type { SessionState, TransactionState } from './state.js';
import type { HookResult, Verdict } from './verdict.js';

/** A SASL exchange waiting for the client's next response. */
export interface PendingSasl {
  readonly exchange: SaslExchange;
  readonly mechanism: string;
}

/** Replies and hooks: how a command answers. */
export interface SessionReplies {
  readonly config: ServerConfig;
  /** Read-only here: state changes go through the methods below. */
  readonly session: Readonly<SessionState>;
  /** True once the connection is closing or closed. */
  readonly isClosed: boolean;
  /** Queues a reply; replies go out together at the next flush. */
  send(r: Reply): void;
  /** Queues a reply to a malformed or out-of-sequence command and counts it. */
  protocolError(r: Reply): void;
  /** Sends a final reply and closes the connection. */
  shutdown(r: Reply): void;
  /** Sends the reply a verdict calls for, `positive` when it accepts; returns whether it accepted. */
  answer(verdict: HookResult, positive: Reply): boolean;
  /** Runs a hook; one that throws or rejects is a temporary failure. */
  consult<T extends HookResult | readonly Verdict[] | Handover>(call: () => T | Promise<T>): Promise<T | Verdict>;
}

/** The session as a command handler sees it. */
export interface SessionControl extends SessionReplies {
  /** The open transaction (the envelope being built), if any. */
  readonly transaction: TransactionState | null;
  /** The service extensions in force (parameter parsing reads them). */
  readonly extensions: Extensions;
  /** A BDAT sequence has started and not ended (RSET, MAIL, RCPT and DATA must know). */
  readonly bdatInProgress: boolean;

  // State transitions.
  /** EHLO/HELO/LHLO accepted: the name is recorded and the extensions in force follow from it. */
  greeted(helo: { verb: 'HELO' | 'EHLO' | 'LHLO'; name: string }): void;
  /** AUTH succeeded for this identity. */
  authenticated(user: string): void;
  /** MAIL accepted: this transaction is now current. */
  openTransaction(transaction: TransactionState): void;
  /** Ends a transaction (RSET, EHLO, a failed message): the session stays as it is. */
  endTransaction(): void;
  /** Abandons a BDAT sequence (RSET, or an error ending the transaction). */
  abandonBody(): void;

  // Mode switches: what the following input is.
  /** After 354: the following octets are message data. */
  beginData(transaction: TransactionState): void;
  /** After a BDAT command: the next `length` octets belong to the message. */
  beginChunk(transaction: TransactionState, length: number, last: boolean): void;
  /** A refused BDAT chunk: its octets are read and dropped, then `refusal` is sent. */
  discardChunk(length: number, refusal: Reply): void;
  /** After a 334 challenge: the next line is a SASL response. */
  beginSasl(exchange: SaslExchange, mechanism: string): void;
  /** The SASL exchange in progress, ending it. */
  takeSasl(): PendingSasl | null;
  /** STARTTLS after its 220: switch the connection to TLS and start the session over. */
  upgradeToTls(): void;
  /** Sends `r`, ends the session and gives the socket to `take` (a command extension's handover). */
  handOver(r: Reply, take: TakeSocket): void;
}

/** The session as the message-data phase sees it: replies, the end of the transaction, input flow. */
export interface DataPhaseControl extends SessionReplies {
  /** True while the input being processed is a lent read: whatever is kept must be copied. */
  readonly inputIsLent: boolean;
  /** A message was received in full: count it and end the transaction. */
  completeTransaction(): void;
  endTransaction(): void;
  abandonBody(): void;
  /** Pauses socket reading (message stream back-pressure). */
  pauseInput(): void;
  /** Resumes socket reading. */
  resumeInput(): void;
}
