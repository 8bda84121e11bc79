/**
 * Command extensions: verbs beyond the server's own, answered by the application (ATRN for
 * On-Demand Mail Relay, RFC 2645), each advertised in the EHLO reply by its keyword. A handler
 * answers with a verdict, as hooks do, or hands the connection over: the reply is written, the
 * session ends, and the socket (with any input read past the command) belongs to the
 * application from then on — the turn of ODMR, where the server becomes the client.
 */
import type { Socket } from 'node:net';
import type { Reply } from '../reply/reply.js';
import type { Session } from './types.js';
import type { HookResult } from './verdict.js';

type Awaitable<T> = T | Promise<T>;

/** Receives a handed-over socket and the octets the client sent after the command, if any. */
export type TakeSocket = (socket: Socket, unread: Buffer | null) => void;

/** Answer with `reply`, then give the connection to `take`. */
export interface Handover {
  readonly kind: 'handover';
  readonly reply: Reply;
  readonly take: TakeSocket;
}

/** What an extension command answers: a verdict (nothing is accept: 250 OK), or a handover. */
export type ExtensionResult = HookResult | Handover;

export interface CommandExtension {
  /** The verb, e.g. `ATRN` (matched case-insensitively). */
  readonly verb: string;
  /** The EHLO keyword that announces it (with parameters, if any); none: not announced. */
  readonly keyword?: string;
  /** Announced only once TLS is up. */
  readonly afterTls?: boolean;
  /**
   * Runs the command (outside a mail transaction only: the server answers 503 inside one). A
   * handler that throws counts as a temporary failure (451).
   */
  handle(session: Session, argument: string): Awaitable<ExtensionResult>;
}

/** Hands the connection over after `reply` (see Handover). */
export function handover(reply: Reply, take: TakeSocket): Handover {
  return { kind: 'handover', reply, take };
}
