/**
 * One SMTP/LMTP connection: the session's state and modes (command, SASL, DATA, BDAT), reply
 * batching, hooks, the TLS switch, timeouts and limits. Reading and dispatching input is the
 * input pump's job (input-pump.ts); commands live in `commands/` and see this class only as a
 * SessionControl.
 *
 * Reads: socket events. Emits: replies, batched so that a pipelined group of commands
 * (RFC 2920) is answered with one write, made once the event loop's current batch of reads is
 * done (reply-flush.ts).
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { type Reply, reply } from '../reply/reply.js';
import { formatReply } from '../reply/format.js';
import { ChunkReader, DotDataReader } from '../wire/data-reader.js';
import type { ServerConfig } from './config.js';
import type { Extensions } from '../address/index.js';
import { noExtensions, sessionExtensions } from './commands/extensions.js';
import { type BodyPhase, startBodyPhase } from './body.js';
import type { InactivityClock, Watched } from './inactivity.js';
import { replyFlusher } from './reply-flush.js';
import { InputPump, type Mode, type PumpHost } from './input-pump.js';
import type { SaslExchange } from './sasl/mechanism.js';
import type { DataPhaseControl, PendingSasl } from './session-control.js';
import type { Handover, TakeSocket } from './extensions.js';
import { lendReadsTo } from './shared-reads.js';
import { SessionState, type TransactionState } from './state.js';
import type { HookResult, Verdict } from './verdict.js';
import type { ViolationKind } from './violations.js';

// Replies are immutable data and the common ones are module constants: each is formatted once.
const wireText = new WeakMap<Reply, string>();

export const temporaryFailure = reply(451, '4.3.0', 'Temporary local problem, try again later');

export class Connection implements Watched, PumpHost, DataPhaseControl {
  readonly session: SessionState;
  #transaction: TransactionState | null = null;
  // The service extensions in force, set at EHLO/HELO/LHLO.
  #extensions: Extensions = noExtensions;
  /** Commands since the last MAIL (NOOP/RSET/VRFY floods are cut off). */
  private idleCommands = 0;
  private badCommands = 0;

  private socket: Socket;
  #mode: Mode = 'greeting';
  private readonly input: InputPump;
  private out = '';
  private inputPaused = false;
  private sasl: PendingSasl | null = null;
  private body: BodyPhase | null = null;
  private closeAfterTransaction = false;
  private discard: { reader: ChunkReader; refusal: Reply } | null = null;
  // Inactivity clock mark: the last read or write (the pump marks where an incomplete line began).
  private lastActive: number;

  constructor(
    socket: Socket,
    readonly config: ServerConfig,
    id: string,
    private readonly clock: InactivityClock,
    private readonly onClosed: (connection: Connection) => void,
  ) {
    this.socket = socket;
    this.session = new SessionState(id, socket, config.lmtp);
    this.input = new InputPump(this, clock);
    socket.setNoDelay(true);
    this.attach(socket);
    this.lastActive = clock.tick;
    clock.watch(this);
  }

  /** Starts the conversation (an implicit-TLS socket arrives with its handshake done). */
  start(): void {
    if (this.socket instanceof TLSSocket) this.session.tls = tlsInfo(this.socket);
    void this.greet();
  }

  /** True once the connection is closing or closed. */
  get isClosed(): boolean {
    return this.#mode === 'closed';
  }

  /** What the connection expects next. */
  get mode(): Mode {
    return this.#mode;
  }

  get transaction(): TransactionState | null {
    return this.#transaction;
  }

  get extensions(): Extensions {
    return this.#extensions;
  }

  // ---- Output ----

  /** Queues a reply; replies go out together at the next flush. */
  send(r: Reply): void {
    let text = wireText.get(r);
    if (text === undefined) {
      text = formatReply(r);
      wireText.set(r, text);
    }
    this.out += text;
  }

  /** Queues a reply to a malformed or out-of-sequence command and counts it. */
  protocolError(r: Reply): void {
    this.send(r);
    this.badCommands += 1;
    if (this.badCommands >= this.config.limits.badCommands) {
      this.shutdown(reply(421, '4.7.0', `${this.config.hostname} Too many errors, closing connection`));
    }
  }

  /** Writes queued replies in one write, now. */
  flush(): void {
    if (this.out.length === 0 || this.#mode === 'closed') return;
    this.socket.write(this.out);
    this.out = '';
    this.lastActive = this.clock.tick;
  }

  /** Writes queued replies in one write, after the event loop's current batch of reads. */
  flushSoon(): void {
    if (this.out.length === 0 || this.#mode === 'closed') return;
    replyFlusher.later(this);
  }

  /**
   * A violation that ends the session: one reply, then close; whatever else the client sent
   * is dropped unread. The application hears of it through onViolation.
   */
  violation(kind: ViolationKind, r: Reply, command: string | null = null): void {
    this.shutdown(r);
    try {
      this.config.hooks.onViolation?.(this.session, { kind, command });
    } catch (error) {
      this.config.onError(asError(error), this.session);
    }
  }

  /** Sends a final reply and closes the connection. */
  shutdown(r: Reply): void {
    if (this.#mode === 'closed') return;
    this.send(r);
    this.flush();
    this.close();
  }

  /** Closes the connection; anything in flight is abandoned (never accepted). */
  close(): void {
    if (this.#mode === 'closed') return;
    this.#mode = 'closed';
    this.input.dropInput();
    this.body?.abort(new Error('connection closed before end of data'));
    this.body = null;
    this.socket.end();
    // A peer that never reads must not keep the socket open forever.
    this.socket.setTimeout(5_000, () => this.socket.destroy());
  }

  /** Called by the server on shutdown: close now if idle, else after the current transaction. */
  drain(): void {
    if (!this.input.busy && this.#transaction === null && this.body === null && this.#mode === 'command') {
      this.shutdown(reply(421, '4.3.2', `${this.config.hostname} Service shutting down`));
    } else {
      this.closeAfterTransaction = true;
    }
  }

  // ---- Hooks ----

  /**
   * Runs a hook; a hook that throws or rejects is a temporary failure, never a crash. (Not an
   * async function: a hook's own promise is passed on with one handler, not awaited and re-wrapped.)
   */
  consult<T extends HookResult | readonly Verdict[] | Handover>(call: () => T | Promise<T>): Promise<T | Verdict> {
    try {
      // Promise.resolve hands a hook's own promise back as it is.
      return Promise.resolve(call()).catch(this.hookFailed);
    } catch (error) {
      return Promise.resolve(this.hookFailed(error));
    }
  }

  private readonly hookFailed = (error: unknown): Verdict => {
    this.config.onError(asError(error), this.session);
    return { kind: 'defer', reply: temporaryFailure };
  };

  /**
   * Sends the reply a verdict calls for, `positive` when it accepts. Returns whether it
   * accepted; a disconnect verdict also closes the connection.
   */
  answer(verdict: HookResult, positive: Reply): boolean {
    if (!verdict || verdict.kind === 'accept') {
      this.send(verdict?.reply ?? positive);
      return true;
    }
    if (verdict.kind === 'disconnect') this.shutdown(verdict.reply);
    else this.send(verdict.reply);
    return false;
  }

  // ---- State transitions, called by commands ----

  greeted(helo: { verb: 'HELO' | 'EHLO' | 'LHLO'; name: string }): void {
    this.session.helo = helo;
    this.#extensions = sessionExtensions(this.session, this.config);
  }

  authenticated(user: string): void {
    this.session.user = user;
  }

  openTransaction(transaction: TransactionState): void {
    this.#transaction = transaction;
    this.idleCommands = 0;
  }

  completeTransaction(): void {
    this.session.transactions += 1;
    this.endTransaction();
  }

  // ---- Mode switches, called by commands ----

  /** After 354: the following octets are message data. */
  beginData(transaction: TransactionState): void {
    const reader = new DotDataReader({ maxBytes: this.config.limits.messageSize, strictLineEndings: this.config.strictLineEndings });
    this.body = startBodyPhase(this, transaction, reader);
    this.#mode = 'data';
  }

  /** After a BDAT command: the next `length` octets belong to the message. */
  beginChunk(transaction: TransactionState, length: number, last: boolean): void {
    if (this.body === null || this.body.transaction !== transaction) {
      this.body = startBodyPhase(this, transaction, null);
    }
    this.body.beginChunk(new ChunkReader(length), last);
    this.#mode = 'bdat';
  }

  /** A BDAT chunk that is refused: its octets are read and dropped, then `refusal` is sent. */
  discardChunk(length: number, refusal: Reply): void {
    this.discard = { reader: new ChunkReader(length), refusal };
    this.#mode = 'discard';
  }

  /** A BDAT sequence in progress (between DATA's 354 and its end, commands are not read). */
  get bdatInProgress(): boolean {
    return this.body !== null;
  }

  /** Abandons a BDAT sequence (RSET, or an error ending the transaction). */
  abandonBody(): void {
    this.body?.abort(new Error('transaction reset'));
    this.body = null;
  }

  /** After a 334 challenge: the next line is a SASL response. */
  beginSasl(exchange: SaslExchange, mechanism: string): void {
    this.sasl = { exchange, mechanism };
    this.#mode = 'sasl';
  }

  /** The SASL exchange in progress. */
  takeSasl(): PendingSasl | null {
    const current = this.sasl;
    this.sasl = null;
    if (this.#mode === 'sasl') this.#mode = 'command';
    return current;
  }

  /** Ends a transaction (after end of data, RSET, EHLO): the session stays as it is. */
  endTransaction(): void {
    this.#transaction = null;
    if (this.closeAfterTransaction && this.#mode !== 'closed') {
      this.shutdown(reply(421, '4.3.2', `${this.config.hostname} Service shutting down`));
    }
  }

  /**
   * STARTTLS after the 220 reply (RFC 3207 §4.2): input the client sent before the handshake
   * is discarded (no plaintext injection), then the session starts over.
   */
  upgradeToTls(): void {
    const context = this.config.secureContext;
    if (!context) return;
    this.flush();
    this.input.dropInput();
    this.detach(this.socket);
    const secure = new TLSSocket(this.socket, { isServer: true, secureContext: context });
    this.socket = secure;
    this.#mode = 'handshake';
    this.attach(secure);
    secure.once('secure', () => {
      this.session.tls = tlsInfo(secure);
      this.session.helo = null;
      this.#transaction = null;
      this.#mode = 'command';
      this.lastActive = this.clock.tick;
      this.input.resume();
    });
  }

  /**
   * A command extension's handover: `r` is written, the session ends (the server forgets it,
   * onClose runs) and the socket goes to `take` with the input not read yet. A socket reading
   * into the shared buffer is switched to 'data' events first, as its new owner expects.
   */
  handOver(r: Reply, take: TakeSocket): void {
    if (this.#mode === 'closed') return;
    this.send(r);
    this.flush();
    this.#mode = 'closed';
    const unread = this.input.takeUnread();
    const socket = this.socket;
    this.detach(socket);
    lendReadsTo(socket, (chunk) => socket.emit('data', Buffer.from(chunk)));
    this.clock.unwatch(this);
    this.onClosed(this);
    try {
      this.config.hooks.onClose?.(this.session);
    } catch (error) {
      this.config.onError(asError(error), this.session);
    }
    take(socket, unread);
  }

  /**
   * Called by the inactivity clock once per period: ends a connection quiet for longer than the
   * timeout of what it waits for (a handshake, a command, message data), or one whose command
   * line has been trickling in for longer than the command timeout.
   */
  check(clock: InactivityClock): void {
    const mode = this.#mode;
    if (mode === 'closed') return;
    const { command, data, handshake } = this.config.timeouts;
    const timeout = mode === 'handshake' ? handshake : mode === 'data' || mode === 'bdat' || mode === 'discard' ? data : command;
    const lineStarted = this.input.lineStarted;
    if (clock.since(this.lastActive) >= timeout || (lineStarted !== null && clock.since(lineStarted) >= command)) this.onTimeout();
  }

  /** Pauses socket reading (message stream back-pressure). */
  pauseInput(): void {
    if (!this.inputPaused) {
      this.inputPaused = true;
      this.socket.pause();
    }
  }

  /** Resumes socket reading. */
  resumeInput(): void {
    if (this.inputPaused) {
      this.inputPaused = false;
      this.socket.resume();
    }
  }

  // ---- For the input pump ----

  /** True while the input being processed is a lent read: whatever is kept must be copied. */
  get inputIsLent(): boolean {
    return this.input.inputIsLent;
  }

  get dataPhase(): BodyPhase | null {
    return this.body;
  }

  get discarding(): { readonly reader: ChunkReader; readonly refusal: Reply } | null {
    return this.discard;
  }

  chunkRead(body: BodyPhase): void {
    this.#mode = 'command';
    if (body.last) this.body = null;
  }

  chunkDiscarded(): void {
    this.discard = null;
    this.#mode = 'command';
  }

  idleCommand(): number {
    this.idleCommands += 1;
    return this.idleCommands;
  }

  markActive(): void {
    this.lastActive = this.clock.tick;
  }

  readAgain(): void {
    this.flushSoon();
    if (this.inputPaused && (this.body === null || !this.body.wantsPause)) this.resumeInput();
  }

  private onTimeout(): void {
    if (this.#mode === 'handshake') {
      this.socket.destroy();
      return;
    }
    this.shutdown(reply(421, '4.4.2', `${this.config.hostname} Timeout exceeded, closing connection`));
  }

  private readonly onSocketError = (error: Error): void => {
    // Resets and broken pipes are everyday events for a mail server, not faults.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ECONNRESET' && code !== 'EPIPE' && code !== 'ETIMEDOUT') this.config.onError(error, this.session);
  };

  private readonly onSocketClose = (): void => {
    this.clock.unwatch(this);
    if (this.#mode !== 'closed') {
      this.#mode = 'closed';
      this.body?.abort(new Error('connection closed before end of data'));
      this.body = null;
    }
    this.input.dropInput();
    this.onClosed(this);
    try {
      this.config.hooks.onClose?.(this.session);
    } catch (error) {
      this.config.onError(asError(error), this.session);
    }
  };

  // Runs ahead of Node's own 'end' listener (see InputPump.ended).
  private readonly onSocketEnd = (): void => this.input.ended(this.socket);

  private attach(socket: Socket): void {
    this.input.listen(socket);
    socket.prependListener('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
  }

  private detach(socket: Socket): void {
    this.input.unlisten(socket);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onSocketClose);
  }

  /** Sends the greeting after the onConnect hook and the optional pre-greeting delay. */
  private async greet(): Promise<void> {
    const { hooks, greetingDelay, hostname, lmtp } = this.config;
    if (greetingDelay > 0) await new Promise((resolve) => setTimeout(resolve, greetingDelay));
    if (this.#mode !== 'greeting') return;
    if (hooks.onConnect) {
      const verdict = await this.consult(() => hooks.onConnect?.(this.session));
      if (this.#mode !== 'greeting') return;
      if (verdict && verdict.kind !== 'accept') {
        // RFC 5321 §3.1: a server that refuses service answers 554 and waits for QUIT; closing is kinder to both.
        this.shutdown(verdict.kind === 'defer' ? { ...verdict.reply, code: 421 } : verdict.reply);
        return;
      }
    }
    this.#mode = 'command';
    this.send(reply(220, null, `${hostname} ${lmtp ? 'LMTP' : 'ESMTP'} ready`));
    this.flush();
  }
}

/** TLS details of an established session, for Received headers and policy. */
function tlsInfo(socket: TLSSocket): { protocol: string | null; cipher: string } {
  return { protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? 'unknown' };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
