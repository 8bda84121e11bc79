/**
 * Reply flushing across connections: the replies every session produced while the event loop
 * handled one batch of socket reads go out together, once that batch is done.
 *
 * Reads: connections with queued replies, and a count of the octets read since. Emits: one
 * `flush()` per waiting connection, at the end of the event loop's I/O phase (setImmediate), or
 * at once when more than `maxInputBeforeFlush` octets of input have been read meanwhile.
 *
 * Why: a write to a local peer also runs the peer's receive path and wakes the peer. Writing
 * each session's replies as soon as it is served wakes a client per write; writing them after
 * the batch lets the first write wake a client and the rest find it already running. The write
 * count stays the same (one per pipelined group), so nothing is merged across sessions.
 * The input cap keeps the wait short when the batch is large messages: a reply never waits
 * for more than about one full socket read (64 KiB) of other sessions' input to be processed.
 */

/** A connection whose queued replies can be written now. */
export interface Flushable {
  flush(): void;
}

/** Input read (in octets) while replies wait, after which they are written at once. */
export const maxInputBeforeFlush = 64 * 1024;

export class ReplyFlusher {
  private waiting: Flushable[] = [];
  private readonly queued = new WeakSet<Flushable>();
  private inputSinceQueued = 0;
  private scheduled = false;

  constructor(private readonly maxInput = maxInputBeforeFlush) {}

  /** Writes `connection`'s replies after the current batch of I/O. */
  later(connection: Flushable): void {
    if (this.queued.has(connection)) return;
    this.queued.add(connection);
    this.waiting.push(connection);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endOfBatch);
    }
  }

  /** Counts octets just read; past the cap, waiting replies are written now. */
  noteInput(octets: number): void {
    if (this.waiting.length === 0) return;
    this.inputSinceQueued += octets;
    if (this.inputSinceQueued > this.maxInput) this.flushAll();
  }

  /** Connections whose replies are waiting. */
  get pending(): number {
    return this.waiting.length;
  }

  /**
   * Writes every waiting connection's replies, in the order they were queued. A flush that
   * throws does not hold the others back: the first error is thrown once all have been tried.
   */
  readonly flushAll = (): void => {
    const waiting = this.waiting;
    this.waiting = [];
    this.inputSinceQueued = 0;
    let failure: { error: unknown } | null = null;
    for (const connection of waiting) {
      this.queued.delete(connection);
      try {
        connection.flush();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  };

  private readonly endOfBatch = (): void => {
    this.scheduled = false;
    this.flushAll();
  };
}

/**
 * The process-wide flusher: the batch is a turn of the one event loop, so the sessions of
 * every server in the process share it.
 */
export const replyFlusher = new ReplyFlusher();
