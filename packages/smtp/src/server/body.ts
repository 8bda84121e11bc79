/**
 * The message-data phase of a transaction, for DATA (dot-stuffed, ends at CRLF.CRLF) and for
 * BDAT (counted chunks, RFC 3030). Streams the octets to the onData hook as they arrive and
 * sends the reply to end-of-data only once the hook's verdict is in.
 */
import { Readable } from 'node:stream';
import { type Reply, reply } from '../reply/reply.js';
import type { ChunkReader, DotDataReader } from '../wire/data-reader.js';
import { slabCopy } from './slab-copy.js';
import type { MessageBody } from './hooks.js';
import type { DataPhaseControl } from './session-control.js';
import type { TransactionState } from './state.js';
import type { HookResult, Verdict } from './verdict.js';

const messageAccepted = reply(250, '2.0.0', 'Message accepted');
const messageTooBig = reply(552, '5.3.4', 'Message size exceeds fixed maximum message size');
const bareLineEnding = reply(554, '5.6.0', 'Message contains bare <CR> or <LF>; lines must end with <CR><LF>');

const ignore = (): void => {};

// No auto-destroy and no 'close': two fewer ticks per message, and the end is 'end'.
const streamOptions = { highWaterMark: 256 * 1024, autoDestroy: false, emitClose: false } as const;

/** The stream handed to onData; reading from it resumes the socket. */
class MessageStream extends Readable {
  constructor(private readonly onDemand: () => void) {
    super(streamOptions);
  }

  override _read(): void {
    this.onDemand();
  }

  // An error nobody listens for (an abort, or a hook's own destroy) must not surface as an
  // unhandled 'error' event. Checked here rather than by a listener on every message's stream.
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error && this.listenerCount('error') === 0) this.on('error', ignore);
    callback(error);
  }
}

export class BodyPhase {
  /** The current DATA body or BDAT chunk has been read in full. */
  chunkDone = false;
  /** This chunk ends the message (always true for DATA). */
  last = false;
  /** The hook's stream is full; input stays paused until it reads. */
  wantsPause = false;

  private readonly stream: MessageStream;
  private readonly verdict: Promise<HookResult | readonly Verdict[]>;
  private chunk: ChunkReader | null = null;
  private size = 0;
  private failure: Reply | null = null;
  private readonly emit = (segment: Buffer): void => this.push(segment);

  constructor(
    private readonly connection: DataPhaseControl,
    readonly transaction: TransactionState,
    private readonly dot: DotDataReader | null,
  ) {
    this.last = dot !== null;
    this.stream = new MessageStream(() => {
      this.wantsPause = false;
      connection.resumeInput();
    });
    const { onData } = connection.config.hooks;
    const body = this.stream as MessageBody;
    this.verdict = connection.consult(() => (onData ? onData(connection.session, transaction, body) : drain(body)));
    // Whatever the hook left unread is discarded, so the client is never stalled.
    const discardRest = (): void => void this.stream.resume();
    void this.verdict.then(discardRest, discardRest);
  }

  /** Starts the next BDAT chunk. */
  beginChunk(chunk: ChunkReader, last: boolean): void {
    this.chunk = chunk;
    this.chunkDone = chunk.done;
    this.last = last;
  }

  /** Consumes input octets; returns how many belong to this phase. */
  feed(input: Buffer): number {
    if (this.dot) {
      const end = this.dot.feed(input, this.emit);
      if (end === -1) return input.length;
      this.chunkDone = true;
      return end;
    }
    if (!this.chunk) return 0;
    const used = this.chunk.feed(input, this.emit);
    this.chunkDone = this.chunk.done;
    return used;
  }

  /**
   * Replies to the end of a chunk or of the data, ending the transaction when it is over.
   * Resolves with whether the connection is still open.
   */
  async complete(): Promise<boolean> {
    const connection = this.connection;

    // A failed message: consume the rest, answer the failure, drop the transaction.
    const failure = this.failure ?? this.dotFailure();
    if (failure) {
      this.abort(new Error(failure.lines[0]));
      await this.verdict;
      // LMTP (RFC 2033 §4.2): one reply per accepted recipient, refusals included.
      const replies = connection.config.lmtp && this.last ? this.transaction.recipients.length : 1;
      for (let i = 0; i < replies; i += 1) connection.send(failure);
      connection.abandonBody();
      connection.endTransaction();
      return !connection.isClosed;
    }

    // An intermediate BDAT chunk.
    if (!this.last) {
      connection.send(reply(250, '2.0.0', `${this.size} octets received`));
      return !connection.isClosed;
    }

    // End of data: the hook's verdict is the reply, one per recipient in LMTP.
    this.stream.push(null);
    const verdict = await this.verdict;
    const recipients = this.transaction.recipients;
    if (connection.config.lmtp) {
      for (let i = 0; i < recipients.length; i += 1) {
        const v = Array.isArray(verdict) ? (verdict[i] ?? verdict[verdict.length - 1]) : (verdict as HookResult);
        connection.answer(v?.kind === 'disconnect' ? { kind: 'defer', reply: v.reply } : v, messageAccepted);
      }
    } else {
      const v = Array.isArray(verdict) ? verdict[0] : (verdict as HookResult);
      connection.answer(v, messageAccepted);
    }
    connection.completeTransaction();
    return !connection.isClosed;
  }

  /** Ends the hook's stream with an error: the message will not be accepted. */
  abort(error: Error): void {
    if (!this.stream.destroyed) this.stream.destroy(error);
  }

  /** Hands octets to the hook's stream, enforcing the size limit for BDAT. */
  private push(segment: Buffer): void {
    this.size += segment.length;
    if (this.failure) return;
    if (this.size > this.connection.config.limits.messageSize) {
      this.failure = messageTooBig;
      return;
    }
    if (this.stream.destroyed) return;
    // The hook keeps what it is given: a lent read is copied (the copy is the only one made).
    // push runs inside the session's synchronous pass over the read, where inputIsLent holds.
    if (!this.stream.push(this.connection.inputIsLent ? slabCopy(segment) : segment)) {
      this.wantsPause = true;
      this.connection.pauseInput();
    }
  }

  /** The DATA reader's verdict on what it read: too big, or bare line endings. */
  private dotFailure(): Reply | null {
    if (!this.dot) return null;
    if (this.dot.oversized) return messageTooBig;
    if (this.dot.violation && this.connection.config.strictLineEndings) return bareLineEnding;
    return null;
  }
}

/** Starts a data phase for a transaction: DATA when a dot reader is given, else BDAT. */
export function startBodyPhase(connection: DataPhaseControl, transaction: TransactionState, dot: DotDataReader | null): BodyPhase {
  return new BodyPhase(connection, transaction, dot);
}

/** Reads a body to its end without keeping it (no onData hook). */
async function drain(body: MessageBody): Promise<HookResult> {
  for await (const _chunk of body) {
    // discard
  }
  return undefined;
}
