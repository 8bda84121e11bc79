/**
 * One SMTP/LMTP connection: the byte-level input loop, reply batching, the TLS switch,
 * timeouts and limits. Commands themselves live in `commands/`; this module only moves
 * bytes, keeps modes (command, SASL, DATA, BDAT) and runs hooks.
 *
 * Reads: raw socket bytes. Emits: replies, batched so that a pipelined group of commands
 * (RFC 2920) is answered with one write, made once the event loop's current batch of reads is
 * done (reply-flush.ts); message octets to the onData hook's stream.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { isUtf8 } from 'node:buffer';
import { type Reply, reply } from '../reply/reply.js';
import { formatReply } from '../reply/format.js';
import { ChunkReader, DotDataReader } from '../wire/data-reader.js';
import { LineScan } from '../wire/line-scan.js';
import type { ServerConfig } from './config.js';
import type { Extensions } from '../address/index.js';
import { noExtensions, sessionExtensions } from './commands/extensions.js';
import { saslResponse } from './commands/auth.js';
import { commandTable } from './commands/table.js';
import { type BodyPhase, startBodyPhase } from './body.js';
import type { InactivityClock, Watched } from './inactivity.js';
import { replyFlusher } from './reply-flush.js';
import { lendReadsTo } from './shared-reads.js';
import type { SaslExchange } from './sasl/mechanism.js';
import type { DataPhaseControl, PendingSasl, SessionControl } from './session-control.js';
import { SessionState, type TransactionState } from './state.js';
import type { HookResult, Verdict } from './verdict.js';
import { type ViolationKind, bareCrReply, bareLfReply, forbiddenCommandReply } from './violations.js';

const CR = 0x0d;

type Mode = 'greeting' | 'handshake' | 'command' | 'sasl' | 'data' | 'bdat' | 'discard' | 'closed';

/** Input held while a hook runs before the socket is paused (pipelined floods stay bounded). */
const maxPendingInput = 256 * 1024;

// Replies are immutable data and the common ones are module constants: each is formatted once.
const wireText = new WeakMap<Reply, string>();

export const temporaryFailure = reply(451, '4.3.0', 'Temporary local problem, try again later');

export class Connection implements Watched, SessionControl, DataPhaseControl {
  readonly session: SessionState;
  private current: TransactionState | null = null;
  // The service extensions in force, set at EHLO/HELO/LHLO.
  private inForce: Extensions = noExtensions;
  /** Commands since the last MAIL (NOOP/RSET/VRFY floods are cut off). */
  private idleCommands = 0;
  private badCommands = 0;

  private socket: Socket;
  private mode: Mode = 'greeting';
  private pending: Buffer | null = null;
  // `pending` is a lent read (shared-reads.ts), valid only until the reader returns.
  private pendingLent = false;
  // Octets at the front of `pending` already used: command lines are taken off without slicing.
  private pendingStart = 0;
  private readonly line = new LineScan();
  private busy = false;
  private out = '';
  private discardingLine = false;
  private inputPaused = false;
  /** The client has closed its side: no more input will come. */
  private inputEnded = false;
  private sasl: PendingSasl | null = null;
  private body: BodyPhase | null = null;
  private closeAfterTransaction = false;
  private discard: { reader: ChunkReader; refusal: Reply } | null = null;
  // Inactivity clock marks: the last read or write, and the start of a command line still
  // incomplete (a line must arrive whole within the command timeout, however slowly it trickles).
  private lastActive: number;
  private lineStarted: number | null = null;

  constructor(
    socket: Socket,
    readonly config: ServerConfig,
    id: string,
    private readonly clock: InactivityClock,
    private readonly onClosed: (connection: Connection) => void,
  ) {
    this.socket = socket;
    this.session = new SessionState(id, socket, config.lmtp);
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
    return this.mode === 'closed';
  }

  get transaction(): TransactionState | null {
    return this.current;
  }

  get extensions(): Extensions {
    return this.inForce;
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
    if (this.out.length === 0 || this.mode === 'closed') return;
    this.socket.write(this.out);
    this.out = '';
    this.lastActive = this.clock.tick;
  }

  /** Writes queued replies in one write, after the event loop's current batch of reads. */
  flushSoon(): void {
    if (this.out.length === 0 || this.mode === 'closed') return;
    replyFlusher.later(this);
  }

  /**
   * A violation that ends the session: one reply, then close; whatever else the client sent
   * is dropped unread. The application hears of it through onViolation.
   */
  private violation(kind: ViolationKind, r: Reply, command: string | null = null): void {
    this.shutdown(r);
    try {
      this.config.hooks.onViolation?.(this.session, { kind, command });
    } catch (error) {
      this.config.onError(asError(error), this.session);
    }
  }

  /** Sends a final reply and closes the connection. */
  shutdown(r: Reply): void {
    if (this.mode === 'closed') return;
    this.send(r);
    this.flush();
    this.close();
  }

  /** Closes the connection; anything in flight is abandoned (never accepted). */
  close(): void {
    if (this.mode === 'closed') return;
    this.mode = 'closed';
    this.dropInput();
    this.body?.abort(new Error('connection closed before end of data'));
    this.body = null;
    this.socket.end();
    // A peer that never reads must not keep the socket open forever.
    this.socket.setTimeout(5_000, () => this.socket.destroy());
  }

  /** Called by the server on shutdown: close now if idle, else after the current transaction. */
  drain(): void {
    if (!this.busy && this.current === null && this.body === null && this.mode === 'command') {
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
  consult<T extends HookResult | readonly Verdict[]>(call: () => T | Promise<T>): Promise<T | Verdict> {
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
    this.inForce = sessionExtensions(this.session, this.config);
  }

  authenticated(user: string): void {
    this.session.user = user;
  }

  openTransaction(transaction: TransactionState): void {
    this.current = transaction;
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
    this.mode = 'data';
  }

  /** After a BDAT command: the next `length` octets belong to the message. */
  beginChunk(transaction: TransactionState, length: number, last: boolean): void {
    if (this.body === null || this.body.transaction !== transaction) {
      this.body = startBodyPhase(this, transaction, null);
    }
    this.body.beginChunk(new ChunkReader(length), last);
    this.mode = 'bdat';
  }

  /** A BDAT chunk that is refused: its octets are read and dropped, then `refusal` is sent. */
  discardChunk(length: number, refusal: Reply): void {
    this.discard = { reader: new ChunkReader(length), refusal };
    this.mode = 'discard';
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
    this.mode = 'sasl';
  }

  /** The SASL exchange in progress. */
  takeSasl(): PendingSasl | null {
    const current = this.sasl;
    this.sasl = null;
    if (this.mode === 'sasl') this.mode = 'command';
    return current;
  }

  /** Ends a transaction (after end of data, RSET, EHLO): the session stays as it is. */
  endTransaction(): void {
    this.current = null;
    if (this.closeAfterTransaction && this.mode !== 'closed') {
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
    this.dropInput();
    this.detach(this.socket);
    const secure = new TLSSocket(this.socket, { isServer: true, secureContext: context });
    this.socket = secure;
    this.mode = 'handshake';
    this.attach(secure);
    secure.once('secure', () => {
      this.session.tls = tlsInfo(secure);
      this.session.helo = null;
      this.current = null;
      this.mode = 'command';
      this.lastActive = this.clock.tick;
      this.resumeAfterPump();
    });
  }

  /**
   * Called by the inactivity clock once per period: ends a connection quiet for longer than the
   * timeout of what it waits for (a handshake, a command, message data), or one whose command
   * line has been trickling in for longer than the command timeout.
   */
  check(clock: InactivityClock): void {
    const mode = this.mode;
    if (mode === 'closed') return;
    const { command, data, handshake } = this.config.timeouts;
    const timeout = mode === 'handshake' ? handshake : mode === 'data' || mode === 'bdat' || mode === 'discard' ? data : command;
    if (clock.since(this.lastActive) >= timeout || (this.lineStarted !== null && clock.since(this.lineStarted) >= command)) this.onTimeout();
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

  // ---- Input ----

  /** True while the input being processed is a lent read: whatever is kept must be copied. */
  get inputIsLent(): boolean {
    return this.pendingLent;
  }

  private readonly onSocketData = (chunk: Buffer): void => this.receive(chunk, false);
  private readonly onLentData = (chunk: Buffer): void => this.receive(chunk, true);

  private receive(chunk: Buffer, lent: boolean): void {
    if (this.mode === 'closed') return;
    if (this.mode === 'greeting') {
      // Early talker: input before the greeting (RFC 5321 §4.3.1 says wait for it).
      this.violation('early-talker', reply(554, '5.5.1', `${this.config.hostname} Protocol error: input before greeting`));
      return;
    }
    this.lastActive = this.clock.tick;
    if (this.mode === 'handshake') return;
    if (this.pending === null) {
      this.pending = chunk;
      this.pendingLent = lent;
    } else {
      this.pending = Buffer.concat([this.pendingStart > 0 ? this.pending.subarray(this.pendingStart) : this.pending, chunk]);
      this.pendingStart = 0;
    }
    try {
      // Other sessions' replies may be written here; the chunk is in `pending` first, whatever happens.
      replyFlusher.noteInput(chunk.length);
      if (!this.busy) this.pump();
      else if (this.pending.length > maxPendingInput) this.pauseInput();
    } finally {
      if (this.pendingLent) this.keepInput();
    }
  }

  /** The lent read is about to be reused: copies the input not yet used. */
  private keepInput(): void {
    this.pendingLent = false;
    if (this.pending === null) return;
    this.pending = Buffer.from(this.pending.subarray(this.pendingStart));
    this.pendingStart = 0;
  }

  private onTimeout(): void {
    if (this.mode === 'handshake') {
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
    if (this.mode !== 'closed') {
      this.mode = 'closed';
      this.body?.abort(new Error('connection closed before end of data'));
      this.body = null;
    }
    this.dropInput();
    this.onClosed(this);
    try {
      this.config.hooks.onClose?.(this.session);
    } catch (error) {
      this.config.onError(asError(error), this.session);
    }
  };

  // The client closed its side (FIN). The server's sockets are half-open, so ours stays
  // writable: the commands already read are answered, hooks still running included, then ours is
  // closed too. A socket handed in by the application may not be half-open; Node then ends ours
  // and refuses writes from its own 'end' listener on, so this one runs ahead of it and writes
  // what is queued.
  private readonly onSocketEnd = (): void => {
    this.inputEnded = true;
    if (!this.busy) this.endAfterReplies();
    else if (!this.socket.allowHalfOpen) this.flush();
  };

  /** After the client's FIN and the last reply: write what is queued and close. */
  private endAfterReplies(): void {
    this.flush();
    this.close();
  }

  private attach(socket: Socket): void {
    if (!lendReadsTo(socket, this.onLentData)) socket.on('data', this.onSocketData);
    socket.prependListener('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
  }

  private detach(socket: Socket): void {
    if (!lendReadsTo(socket, null)) socket.off('data', this.onSocketData);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('close', this.onSocketClose);
  }

  /** Sends the greeting after the onConnect hook and the optional pre-greeting delay. */
  private async greet(): Promise<void> {
    const { hooks, greetingDelay, hostname, lmtp } = this.config;
    if (greetingDelay > 0) await new Promise((resolve) => setTimeout(resolve, greetingDelay));
    if (this.mode !== 'greeting') return;
    if (hooks.onConnect) {
      const verdict = await this.consult(() => hooks.onConnect?.(this.session));
      if (this.mode !== 'greeting') return;
      if (verdict && verdict.kind !== 'accept') {
        // RFC 5321 §3.1: a server that refuses service answers 554 and waits for QUIT; closing is kinder to both.
        this.shutdown(verdict.kind === 'defer' ? { ...verdict.reply, code: 421 } : verdict.reply);
        return;
      }
    }
    this.mode = 'command';
    this.send(reply(220, null, `${hostname} ${lmtp ? 'LMTP' : 'ESMTP'} ready`));
    this.flush();
  }

  /** Resumes processing input that arrived while a phase was switching. */
  private resumeAfterPump(): void {
    if (!this.busy && this.pending !== null) this.pump();
  }

  /**
   * Processes buffered input until it runs out or the connection closes. Runs synchronously
   * until a step must wait (a hook, the end of a message), then continues from that promise.
   */
  private pump(): void {
    this.busy = true;
    try {
      for (;;) {
        const step = this.step();
        if (step === true) continue;
        if (step === false) break;
        step.then(this.afterStep, this.stepFailed);
        return;
      }
    } catch (error) {
      this.pumpFailed(error);
      return;
    }
    this.pumpDone();
  }

  private readonly afterStep = (more: boolean): void => (more ? this.pump() : this.pumpDone());
  private readonly stepFailed = (error: unknown): void => this.pumpFailed(error);

  /** One unit of input work: a line, a body slice, or the end of a message. */
  private step(): boolean | Promise<boolean> {
    const mode = this.mode;
    if (mode === 'data' || mode === 'bdat') return this.pumpBody();
    if (mode === 'discard') return this.pumpDiscard();
    if ((mode === 'command' || mode === 'sasl') && this.pending !== null) return this.pumpLine();
    return false;
  }

  /** Input exhausted: send the batched replies and read again. */
  private pumpDone(): void {
    this.busy = false;
    if (this.inputEnded) {
      this.endAfterReplies();
      return;
    }
    this.flushSoon();
    if (this.inputPaused && (this.body === null || !this.body.wantsPause)) this.resumeInput();
  }

  /** A bug, not a client error: log it and end the session with 421. */
  private pumpFailed(error: unknown): void {
    this.config.onError(asError(error), this.session);
    this.shutdown(reply(421, '4.3.0', `${this.config.hostname} Internal error, closing connection`));
    this.pumpDone();
  }

  /** Feeds message octets; returns whether to keep pumping. */
  private pumpBody(): boolean | Promise<boolean> {
    const body = this.body;
    if (body === null) return false;
    if (!body.chunkDone) {
      const input = this.takeInput();
      if (input === null) return false;
      const used = body.feed(input);
      this.consumed(used);
      if (!body.chunkDone) return false;
    }

    // End of data (or of one BDAT chunk): reply, then back to commands.
    this.mode = 'command';
    if (body.last) this.body = null;
    return body.complete();
  }

  /** Drops the octets of a refused BDAT chunk; returns whether to keep pumping. */
  private pumpDiscard(): boolean {
    const discard = this.discard;
    if (discard === null) return false;
    if (!discard.reader.done) {
      const input = this.takeInput();
      if (input === null) return false;
      const used = discard.reader.feed(input, () => {});
      this.consumed(used);
      if (!discard.reader.done) return false;
    }
    this.discard = null;
    this.mode = 'command';
    this.protocolError(discard.refusal);
    return !this.isClosed;
  }

  /** Marks the first `used` octets of the input as consumed. */
  private consumed(used: number): void {
    if (used < (this.pending?.length ?? 0)) this.pendingStart = used;
    else this.dropInput();
  }

  /** Forgets all unused input. */
  private dropInput(): void {
    this.pending = null;
    this.pendingStart = 0;
    this.pendingLent = false;
  }

  /** The unused input as one buffer (for the data phases, which take octets by offset). */
  private takeInput(): Buffer | null {
    if (this.pending !== null && this.pendingStart > 0) {
      this.pending = this.pending.subarray(this.pendingStart);
      this.pendingStart = 0;
    }
    return this.pending;
  }

  /** Takes one line off the input and runs it; returns whether to keep pumping. */
  private pumpLine(): boolean | Promise<boolean> {
    const input = this.pending;
    if (input === null) return false;
    const start = this.pendingStart;
    const limit = this.config.limits.commandLine;
    const line = this.line;
    line.scan(input, start);
    const lf = line.lf;

    // Incomplete line: wait for more, unless it is already too long.
    if (lf === -1) {
      if (input.length - start > limit) {
        this.dropInput();
        if (!this.discardingLine) this.protocolError(reply(500, '5.5.2', 'Line too long'));
        this.discardingLine = true;
        this.sasl = null;
        if (this.mode === 'sasl') this.mode = 'command';
      }
      this.lineStarted ??= this.clock.tick;
      return false;
    }
    this.lineStarted = null;
    const length = lf - start;
    this.consumed(lf + 1);

    // Sanity checks: CRLF only (no bare CR or LF: broken framing ends the session), length,
    // valid UTF-8.
    if (this.discardingLine) {
      this.discardingLine = false;
      return true;
    }
    if (length === 0 || input[lf - 1] !== CR) {
      this.violation('bare-lf', bareLfReply);
      return false;
    }
    if (line.crs > 1) {
      this.violation('bare-cr', bareCrReply);
      return false;
    }
    const isSasl = this.mode === 'sasl';
    const fail = (r: Reply): boolean => {
      if (isSasl) this.takeSasl();
      this.protocolError(r);
      return true;
    };
    if (length + 1 > limit) return fail(reply(500, '5.5.2', 'Line too long'));
    // ASCII reads the same as Latin-1, which needs no validation.
    const end = lf - 1;
    if (line.nonAscii && !isUtf8(input.subarray(start, end))) return fail(reply(500, '5.5.2', 'Command is not valid UTF-8'));
    const text = input.toString(line.nonAscii ? 'utf8' : 'latin1', start, end);

    const done = isSasl ? saslResponse(this, text) : this.command(text);
    return done instanceof Promise ? done.then(() => !this.isClosed) : !this.isClosed;
  }

  /** Dispatches one command line through the command table. */
  private command(text: string): void | Promise<void> {
    const space = text.indexOf(' ');
    const verb = space === -1 ? text : text.slice(0, space);
    const argument = space === -1 ? '' : text.slice(space + 1);
    const table = commandTable(this.config.lmtp);
    // Verbs nearly always arrive in capitals: fold case only when the exact lookup misses.
    const spec = table.get(verb) ?? table.get(verb.toUpperCase());

    // Guard clauses: another protocol's line, unknown verb, TLS required, command floods.
    if (spec === undefined) {
      const forbidden = this.config.forbiddenCommands.match(verb);
      if (forbidden !== null) this.violation('forbidden-command', forbiddenCommandReply, forbidden);
      else this.protocolError(reply(500, '5.5.1', 'Command not recognized'));
      return;
    }
    if (this.config.requireTls && this.session.tls === null && !spec.beforeTls) {
      this.protocolError(reply(530, '5.7.0', 'Must issue a STARTTLS command first'));
      return;
    }
    if (!spec.transaction) {
      this.idleCommands += 1;
      if (this.idleCommands > this.config.limits.commandsWithoutMail) {
        this.shutdown(reply(421, '4.7.0', `${this.config.hostname} Too many commands without a transaction`));
        return;
      }
    }
    return spec.handle(this, argument);
  }
}

/** TLS details of an established session, for Received headers and policy. */
function tlsInfo(socket: TLSSocket): { protocol: string | null; cipher: string } {
  return { protocol: socket.getProtocol(), cipher: socket.getCipher()?.name ?? 'unknown' };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
