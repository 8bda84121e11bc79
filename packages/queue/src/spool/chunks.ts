/**
 * Chunking of spool content: bytes or an async iterable of chunks in, Buffers of a fixed size
 * out (the last one shorter), holding at most one chunk in memory. Each chunk yielded is a
 * buffer of its own, never a view of the caller's memory once the caller may reuse it.
 */

/** The content as Buffers of exactly `size` bytes, the last one shorter; nothing for empty content. */
export async function* chunked(content: Uint8Array | AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  if (content instanceof Uint8Array) {
    const bytes = asBuffer(content);
    for (let offset = 0; offset < bytes.length; offset += size) yield bytes.subarray(offset, offset + size);
    return;
  }

  // Copy into a fresh chunk: the source may reuse its buffer once we ask for the next piece.
  // The first chunk starts small and doubles up to `size`, so that a 2 KB message does not cost
  // a 256 KiB allocation (off-heap memory that V8 answers with garbage collections); once one
  // chunk is full the message is large, and later chunks take `size` at once.
  let chunk: Buffer = Buffer.allocUnsafe(Math.min(size, initialCapacity));
  let filled = 0;
  for await (const piece of content) {
    let bytes = asBuffer(piece);
    while (bytes.length > 0) {
      if (filled === chunk.length) chunk = grow(chunk, size);
      const copied = bytes.copy(chunk, filled, 0, Math.min(bytes.length, chunk.length - filled));
      filled += copied;
      bytes = bytes.subarray(copied);
      if (filled === size) {
        yield chunk;
        chunk = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield chunk.subarray(0, filled);
}

/** Where a streamed chunk starts. */
const initialCapacity = 8192;

/** A buffer twice as large (at most `size`) holding `chunk`'s bytes. */
function grow(chunk: Buffer, size: number): Buffer {
  const next = Buffer.allocUnsafe(Math.min(size, chunk.length * 2));
  chunk.copy(next);
  return next;
}

/** A Buffer view of the same memory, without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
