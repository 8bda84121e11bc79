/**
 * The application's side of a server: async hooks that decide, each answering with a
 * verdict (or nothing, for "accept"). A hook that throws counts as a temporary failure.
 */
import type { Readable } from 'node:stream';
import type { Address } from '../address/index.js';
import type { Credentials, Recipient, Session, Transaction } from './types.js';
import type { HookResult, Verdict } from './verdict.js';
import type { ProtocolViolation } from './violations.js';

type Awaitable<T> = T | Promise<T>;

/** The message body handed to onData: unstuffed octets, streamed, binary-safe. */
export type MessageBody = Readable & AsyncIterable<Buffer>;

export interface ServerHooks {
  /** A client connected; reject to refuse it (554) before the greeting. */
  onConnect?(session: Session): Awaitable<HookResult>;
  /** HELO, EHLO or LHLO with the name the client gave. */
  onHelo?(session: Session, name: string): Awaitable<HookResult>;
  /** The client authenticated with these credentials; accept to log it in. */
  onAuth?(session: Session, credentials: Credentials): Awaitable<HookResult>;
  /** MAIL FROM, after syntax and parameter checks. `from` is null for `<>`. */
  onMailFrom?(session: Session, transaction: Transaction, from: Address | null): Awaitable<HookResult>;
  /** RCPT TO, after syntax checks and the recipient limit. */
  onRcptTo?(session: Session, transaction: Transaction, recipient: Recipient): Awaitable<HookResult>;
  /**
   * The message data. Called as soon as the data starts; `body` streams the unstuffed octets
   * and ends at end-of-data. The verdict is the reply to end-of-data, so accept only once
   * the message is stored. In LMTP mode an array gives one verdict per recipient.
   */
  onData?(session: Session, transaction: Transaction, body: MessageBody): Awaitable<HookResult | readonly Verdict[]>;
  /** VRFY: accept with a text to confirm; without this hook the server answers 252. */
  onVrfy?(session: Session, argument: string): Awaitable<HookResult>;
  /** ETRN (RFC 1985): start the queue for a node. ETRN is offered only when this hook is set. */
  onEtrn?(session: Session, node: string): Awaitable<HookResult>;
  /**
   * The client broke the protocol in a way that ends the session (a bare LF or CR in a
   * command line, a forbidden command such as an HTTP request, input before the greeting):
   * it has been answered once and is being closed. For the application's log and metrics.
   */
  onViolation?(session: Session, violation: ProtocolViolation): void;
  /** The connection closed, for whatever reason. */
  onClose?(session: Session): void;
}
