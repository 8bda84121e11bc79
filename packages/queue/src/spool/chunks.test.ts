import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chunked } from './chunks.js';

/** The content as pieces of the given lengths, each piece's buffer overwritten once the next is asked for. */
async function* reusedPieces(content: Buffer, lengths: readonly number[]): AsyncGenerator<Uint8Array> {
  const scratch = Buffer.alloc(Math.max(...lengths, 1));
  let offset = 0;
  for (let i = 0; offset < content.length; i += 1) {
    const length = Math.min(lengths[i % lengths.length] ?? 1, content.length - offset);
    content.copy(scratch, 0, offset, offset + length);
    yield scratch.subarray(0, length);
    scratch.fill(0x2a);
    offset += length;
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

describe('chunked', () => {
  it.each([
    ['a small message from a few pieces', 2200, [700, 1000, 1]],
    ['exactly one chunk', 64 * 1024, [4096]],
    ['several chunks from odd pieces', 300_000, [1, 65_536, 7, 12_345]],
    ['pieces larger than a chunk', 200_000, [150_000]],
  ])('%s: full chunks of the size, the last shorter, bytes unchanged', async (_name, length, lengths) => {
    const size = 64 * 1024;
    const content = randomBytes(length);
    const chunks = await collect(chunked(reusedPieces(content, lengths), size));
    expect(Buffer.concat(chunks).equals(content)).toBe(true);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBe(size);
    expect(chunks.at(-1)?.length).toBe(length % size || size);
  });

  it('yields nothing for empty content, streamed or whole', async () => {
    expect(await collect(chunked(reusedPieces(Buffer.alloc(0), [10]), 1024))).toEqual([]);
    expect(await collect(chunked(Buffer.alloc(0), 1024))).toEqual([]);
  });

  it('after the first full chunk, each chunk is one buffer of the chunk size', async () => {
    const chunks = await collect(chunked(reusedPieces(randomBytes(3 * 65_536 + 10), [4096]), 65_536));
    expect(chunks.slice(1).map((c) => c.buffer.byteLength)).toEqual([65_536, 65_536, 65_536]);
  });

  it('a small streamed message takes a small buffer, not a whole chunk', async () => {
    const [chunk] = await collect(chunked(reusedPieces(randomBytes(2200), [500]), 256 * 1024));
    expect(chunk?.buffer.byteLength).toBeLessThanOrEqual(8192);
  });
});
