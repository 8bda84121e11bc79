/**
 * The input side of one connection: takes the socket's reads, buffers what is not used yet, cuts
 * command lines (CRLF only, length and UTF-8 checked), dispatches each through the command table
 * or to the SASL exchange, and feeds message octets to the data phase. Runs synchronously until
 * a step must wait (a hook, the end of a message), then continues from that promise.
 *
 * Reads: socket octets (lent from the shared read buffer, or given). Emits: command handler and
 * SASL calls, data-phase feeds; replies and state go through its host, the connection.
 */
import type { Socket } from 'node:net';
import { isUtf8 } from 'node:buffer';
import { type Reply, reply } from '../reply/reply.js';
import type { ChunkReader } from '../wire/data-reader.js';
import { LineScan } from '../wire/line-scan.js';
import type { BodyPhase } from './body.js';
import { saslResponse } from './commands/auth.js';
import { commandTable } from './commands/table.js';
import { extensionCommand } from './commands/extension.js';
import type { InactivityClock } from './inactivity.js';
import { replyFlusher } from './reply-flush.js';
import type { SessionControl } from './session-control.js';
import { lendReadsTo } from './shared-reads.js';
import { type ViolationKind, bareCrReply, bareLfReply, forbiddenCommandReply } from './violations.js';

const CR = 0x0d;

/** What the connection expects next; the pump reads only in 'command', 'sasl' and the data modes. */
export type Mode = 'greeting' | 'handshake' | 'command' | 'sasl' | 'data' | 'bdat' | 'discard' | 'closed';

/** Input held while a hook runs before the socket is paused (pipelined floods stay bounded). */
const maxPendingInput = 256 * 1024;

/** The connection as the pump sees it: its mode and phases, and what to do when input ends. */
export interface PumpHost extends SessionControl {
  readonly mode: Mode;
  /** The DATA or BDAT phase octets go to, in 'data' and 'bdat' mode. */
  readonly dataPhase: BodyPhase | null;
  /** The refused BDAT chunk being dropped, in 'discard' mode. */
  readonly discarding: { readonly reader: ChunkReader; readonly refusal: Reply } | null;
  /** The data phase's octets are all read: back to commands. */
  chunkRead(body: BodyPhase): void;
  /** The refused chunk is all read: back to commands. */
  chunkDiscarded(): void;
  /** A violation that ends the session (one reply, then close; the application is told). */
  violation(kind: ViolationKind, r: Reply, command?: string | null): void;
  /** Counts a command outside a transaction; returns the count since the last MAIL. */
  idleCommand(): number;
  /** Input arrived: the inactivity clock starts over. */
  markActive(): void;
  /** Input used up: reply soon and read again (unless the data phase's stream is full). */
  readAgain(): void;
  pauseInput(): void;
  flush(): void;
  close(): void;
}

export class InputPump {
  private pending: Buffer | null = null;
  // `pending` is a lent read (shared-reads.ts), valid only until the reader returns.
  private pendingLent = false;
  // Octets at the front of `pending` already used: command lines are taken off without slicing.
  private pendingStart = 0;
  private readonly line = new LineScan();
  private running = false;
  private discardingLine = false;
  /** The client has closed its side: no more input will come. */
  private inputEnded = false;
  /** Tick at which the command line still incomplete began (it must arrive whole in time). */
  lineStarted: number | null = null;

  constructor(
    private readonly host: PumpHost,
    private readonly clock: InactivityClock,
  ) {}

  /** True while input is being processed, a hook's wait included. */
  get busy(): boolean {
    return this.running;
  }

  /** True while the input being processed is a lent read: whatever is kept must be copied. */
  get inputIsLent(): boolean {
    return this.pendingLent;
  }

  /** Starts reading `socket` (lent reads where the socket offers them). */
  listen(socket: Socket): void {
    if (!lendReadsTo(socket, this.onLentData)) socket.on('data', this.onSocketData);
  }

  /** Stops reading `socket` (the TLS switch). */
  unlisten(socket: Socket): void {
    if (!lendReadsTo(socket, null)) socket.off('data', this.onSocketData);
  }

  private readonly onSocketData = (chunk: Buffer): void => this.receive(chunk, false);
  private readonly onLentData = (chunk: Buffer): void => this.receive(chunk, true);

  private receive(chunk: Buffer, lent: boolean): void {
    const host = this.host;
    if (host.mode === 'closed') return;
    if (host.mode === 'greeting') {
      // Early talker: input before the greeting (RFC 5321 §4.3.1 says wait for it).
      host.violation('early-talker', reply(554, '5.5.1', `${host.config.hostname} Protocol error: input before greeting`));
      return;
    }
    host.markActive();
    if (host.mode === 'handshake') return;
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
      if (!this.running) this.pump();
      else if (this.pending.length > maxPendingInput) host.pauseInput();
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

  /**
   * The client closed its side (FIN). The server's sockets are half-open, so ours stays
   * writable: the commands already read are answered, hooks still running included, then ours is
   * closed too. A socket handed in by the application may not be half-open; Node then ends ours
   * and refuses writes from its own 'end' listener on, so the connection calls this ahead of that
   * listener and what is queued is written.
   */
  ended(socket: Socket): void {
    this.inputEnded = true;
    if (!this.running) this.endAfterReplies();
    else if (!socket.allowHalfOpen) this.host.flush();
  }

  /** After the client's FIN and the last reply: write what is queued and close. */
  private endAfterReplies(): void {
    this.host.flush();
    this.host.close();
  }

  /** Resumes processing input that arrived while a phase was switching. */
  resume(): void {
    if (!this.running && this.pending !== null) this.pump();
  }

  /** Processes buffered input until it runs out or the connection closes. */
  private pump(): void {
    this.running = true;
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
    const mode = this.host.mode;
    if (mode === 'data' || mode === 'bdat') return this.pumpBody();
    if (mode === 'discard') return this.pumpDiscard();
    if ((mode === 'command' || mode === 'sasl') && this.pending !== null) return this.pumpLine();
    return false;
  }

  /** Input exhausted: send the batched replies and read again. */
  private pumpDone(): void {
    this.running = false;
    if (this.inputEnded) {
      this.endAfterReplies();
      return;
    }
    this.host.readAgain();
  }

  /** A bug, not a client error: log it and end the session with 421. */
  private pumpFailed(error: unknown): void {
    const host = this.host;
    host.config.onError(error instanceof Error ? error : new Error(String(error)), host.session);
    host.shutdown(reply(421, '4.3.0', `${host.config.hostname} Internal error, closing connection`));
    this.pumpDone();
  }

  /** Feeds message octets; returns whether to keep pumping. */
  private pumpBody(): boolean | Promise<boolean> {
    const body = this.host.dataPhase;
    if (body === null) return false;
    if (!body.chunkDone) {
      const input = this.takeInput();
      if (input === null) return false;
      const used = body.feed(input);
      this.consumed(used);
      if (!body.chunkDone) return false;
    }

    // End of data (or of one BDAT chunk): reply, then back to commands.
    this.host.chunkRead(body);
    return body.complete();
  }

  /** Drops the octets of a refused BDAT chunk; returns whether to keep pumping. */
  private pumpDiscard(): boolean {
    const discard = this.host.discarding;
    if (discard === null) return false;
    if (!discard.reader.done) {
      const input = this.takeInput();
      if (input === null) return false;
      const used = discard.reader.feed(input, () => {});
      this.consumed(used);
      if (!discard.reader.done) return false;
    }
    this.host.chunkDiscarded();
    this.host.protocolError(discard.refusal);
    return !this.host.isClosed;
  }

  /** Marks the first `used` octets of the input as consumed. */
  private consumed(used: number): void {
    if (used < (this.pending?.length ?? 0)) this.pendingStart = used;
    else this.dropInput();
  }

  /** The input not used yet, copied (for a connection handed over); forgotten here. */
  takeUnread(): Buffer | null {
    const unread = this.pending === null || this.pendingStart >= this.pending.length ? null : Buffer.from(this.pending.subarray(this.pendingStart));
    this.dropInput();
    return unread;
  }

  /** Forgets all unused input. */
  dropInput(): void {
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
    const host = this.host;
    const start = this.pendingStart;
    const limit = host.config.limits.commandLine;
    const line = this.line;
    line.scan(input, start);
    const lf = line.lf;

    // Incomplete line: wait for more, unless it is already too long.
    if (lf === -1) {
      if (input.length - start > limit) {
        this.dropInput();
        if (!this.discardingLine) host.protocolError(reply(500, '5.5.2', 'Line too long'));
        this.discardingLine = true;
        host.takeSasl();
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
      host.violation('bare-lf', bareLfReply);
      return false;
    }
    if (line.crs > 1) {
      host.violation('bare-cr', bareCrReply);
      return false;
    }
    const isSasl = host.mode === 'sasl';
    const fail = (r: Reply): boolean => {
      if (isSasl) host.takeSasl();
      host.protocolError(r);
      return true;
    };
    if (length + 1 > limit) return fail(reply(500, '5.5.2', 'Line too long'));
    // ASCII reads the same as Latin-1, which needs no validation.
    const end = lf - 1;
    if (line.nonAscii && !isUtf8(input.subarray(start, end))) return fail(reply(500, '5.5.2', 'Command is not valid UTF-8'));
    const text = input.toString(line.nonAscii ? 'utf8' : 'latin1', start, end);

    const done = isSasl ? saslResponse(host, text) : this.command(text);
    return done instanceof Promise ? done.then(() => !host.isClosed) : !host.isClosed;
  }

  /** Dispatches one command line through the command table. */
  private command(text: string): void | Promise<void> {
    const host = this.host;
    const config = host.config;
    const space = text.indexOf(' ');
    const verb = space === -1 ? text : text.slice(0, space);
    const argument = space === -1 ? '' : text.slice(space + 1);
    const table = commandTable(config.lmtp);
    // Verbs nearly always arrive in capitals: fold case only when the exact lookup misses.
    const spec = table.get(verb) ?? table.get(verb.toUpperCase());

    // The application's own commands, after the server's.
    const extension = spec === undefined && config.extensions.size > 0 ? config.extensions.get(verb.toUpperCase()) : undefined;
    if (extension !== undefined) {
      if (config.requireTls && host.session.tls === null) return host.protocolError(reply(530, '5.7.0', 'Must issue a STARTTLS command first'));
      if (host.idleCommand() > config.limits.commandsWithoutMail) return host.shutdown(reply(421, '4.7.0', `${config.hostname} Too many commands without a transaction`));
      return extensionCommand(host, extension, argument);
    }

    // Guard clauses: another protocol's line, unknown verb, TLS required, command floods.
    if (spec === undefined) {
      const forbidden = config.forbiddenCommands.match(verb);
      if (forbidden !== null) host.violation('forbidden-command', forbiddenCommandReply, forbidden);
      else host.protocolError(reply(500, '5.5.1', 'Command not recognized'));
      return;
    }
    if (config.requireTls && host.session.tls === null && !spec.beforeTls) {
      host.protocolError(reply(530, '5.7.0', 'Must issue a STARTTLS command first'));
      return;
    }
    if (!spec.transaction && host.idleCommand() > config.limits.commandsWithoutMail) {
      host.shutdown(reply(421, '4.7.0', `${config.hostname} Too many commands without a transaction`));
      return;
    }
    return spec.handle(host, argument);
  }
}
