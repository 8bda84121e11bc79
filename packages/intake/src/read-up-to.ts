/**
 * A message read into memory only while it is small: the hand-off carries a small message in
 * its job, and spools a large one as a stream without holding it whole.
 */

export interface ReadUpTo {
  /** The whole message, when it is at most the limit; otherwise null. */
  readonly small: Buffer | null;
  /** The whole message, for whoever stores it (what was read already, then the rest). */
  readonly content: Buffer | AsyncIterable<Uint8Array>;
}

/** Reads `content` into memory while it stays within `limit` octets. */
export async function readUpTo(content: Buffer | AsyncIterable<Uint8Array>, limit: number): Promise<ReadUpTo> {
  if (Buffer.isBuffer(content)) return { small: content.length <= limit ? content : null, content };
  const source = content[Symbol.asyncIterator]();
  const pieces: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await source.next();
    if (next.done === true) {
      const whole = Buffer.concat(pieces, size);
      return { small: whole, content: whole };
    }
    // Copied: a source may reuse its buffer once asked for the next piece.
    const piece = Buffer.from(next.value);
    pieces.push(piece);
    size += piece.length;
    if (size > limit) return { small: null, content: continued(pieces, source) };
  }
}

/** The pieces already read, then the rest of the source. */
async function* continued(pieces: readonly Buffer[], source: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  yield* pieces;
  for (;;) {
    const next = await source.next();
    if (next.done === true) return;
    yield next.value;
  }
}
