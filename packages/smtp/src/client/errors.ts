/**
 * The client's error: what failed, in which phase, whether retrying may help.
 *
 * Reads: a peer reply, a socket or TLS failure, a timeout, or a local policy refusal.
 * Emits: `SmtpClientError`, whose `temporary` flag is the one thing a caller needs to
 * choose between retry and bounce. A reply decides by its class (4xx temporary, 5xx
 * permanent); network failures, timeouts, protocol violations and anything unknown count
 * as temporary, so that nothing is bounced on a guess.
 */
import type { Reply } from '../reply/reply.js';
import { describeReply, isPermanent } from '../reply/reply.js';

/** Where in the conversation the failure happened. */
export type ClientPhase =
  | 'connect'
  | 'greeting'
  | 'ehlo'
  | 'starttls'
  | 'auth'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'rset'
  | 'noop'
  | 'quit';

/** What kind of failure it was. */
export type ClientErrorKind =
  /** The peer answered with a failure reply (see `reply`). */
  | 'reply'
  /** The peer did not answer within the phase's time limit. */
  | 'timeout'
  /** The socket failed or closed. */
  | 'network'
  /** TLS could not be established or the certificate was refused. */
  | 'tls'
  /** The peer broke the protocol (malformed reply, unexpected code). */
  | 'protocol'
  /** Mailway refused to proceed (extension missing, TLS required, invalid address). */
  | 'policy'
  /** The message body source failed. */
  | 'body';

export interface SmtpClientErrorInit {
  readonly phase: ClientPhase;
  readonly kind: ClientErrorKind;
  readonly reply?: Reply | null;
  /** Overrides the classification derived from the reply (policy errors decide for themselves). */
  readonly temporary?: boolean;
  /** RFC 3463 enhanced status code of a refusal Mailway made itself (a reply carries its own). */
  readonly status?: string;
  readonly cause?: unknown;
}

/** A failure with protocol meaning. Anything not decided by a 5xx reply is temporary unless stated. */
export class SmtpClientError extends Error {
  override readonly name: string = 'SmtpClientError';
  readonly phase: ClientPhase;
  readonly kind: ClientErrorKind;
  /** The peer's reply, when it answered. */
  readonly reply: Reply | null;
  /** True when retrying later may succeed. */
  readonly temporary: boolean;
  /** RFC 3463 enhanced status code: the reply's, or Mailway's own for a policy refusal; null when unknown. */
  readonly status: string | null;

  constructor(message: string, init: SmtpClientErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.phase = init.phase;
    this.kind = init.kind;
    this.reply = init.reply ?? null;
    this.temporary = init.temporary ?? !(this.reply && isPermanent(this.reply));
    this.status = init.status ?? this.reply?.enhanced ?? null;
  }

  /** False when retrying cannot help. */
  get permanent(): boolean {
    return !this.temporary;
  }
}

/** An error for a failure reply in `phase`. */
export function replyError(phase: ClientPhase, reply: Reply, what?: string): SmtpClientError {
  return new SmtpClientError(`${what ?? phase.toUpperCase()} failed: ${describeReply(reply)}`, { phase, kind: 'reply', reply });
}

/** Wrap anything thrown into an SmtpClientError; unknown errors are temporary. */
export function toClientError(error: unknown, phase: ClientPhase): SmtpClientError {
  if (error instanceof SmtpClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SmtpClientError(`${phase}: ${message}`, { phase, kind: 'network', cause: error, temporary: true });
}
