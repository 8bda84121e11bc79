import { describe, expect, it } from 'vitest';
import { readUpTo } from './read-up-to.js';

/** A source that hands out one buffer and overwrites it for each next piece, as a socket reader may. */
async function* reusing(pieces: readonly string[]): AsyncGenerator<Uint8Array> {
  const shared = Buffer.alloc(Math.max(0, ...pieces.map((p) => p.length)));
  for (const piece of pieces) {
    shared.fill(0);
    shared.write(piece, 'latin1');
    yield shared.subarray(0, piece.length);
  }
}

async function all(content: Buffer | AsyncIterable<Uint8Array>): Promise<string> {
  if (Buffer.isBuffer(content)) return content.toString('latin1');
  const chunks: Buffer[] = [];
  for await (const chunk of content) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('latin1');
}

describe('readUpTo', () => {
  it('reads a stream within the limit whole, copying pieces its source reuses', async () => {
    const read = await readUpTo(reusing(['abc', 'de', 'fgh']), 8);
    expect(read.small?.toString('latin1')).toBe('abcdefgh');
    expect(await all(read.content)).toBe('abcdefgh');
  });

  it('stops past the limit and hands on the whole stream, what was read first', async () => {
    const read = await readUpTo(reusing(['abc', 'de', 'fgh', 'ij']), 7);
    expect(read.small).toBeNull();
    expect(await all(read.content)).toBe('abcdefghij');
  });

  it('takes a Buffer as it is, small or not', async () => {
    const bytes = Buffer.from('0123456789');
    expect((await readUpTo(bytes, 10)).small).toBe(bytes);
    const large = await readUpTo(bytes, 9);
    expect(large.small).toBeNull();
    expect(large.content).toBe(bytes);
  });

  it('reads an empty stream as an empty message', async () => {
    const read = await readUpTo(reusing([]), 4);
    expect(read.small?.length).toBe(0);
  });
});
