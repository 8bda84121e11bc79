import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { slabCopy } from './slab-copy.js';

describe('slabCopy', () => {
  it('keeps every copy intact while the source is reused, across many slabs', () => {
    const source = Buffer.alloc(64 * 1024);
    const copies: Array<{ copy: Buffer; fill: number; length: number }> = [];
    // Sizes from 1 octet to a full 64 KiB read, enough to fill several slabs.
    const lengths = [1, 7, 8, 9, 2048, 4096, 60_000, 65_536, 3, 30_000, 65_536, 65_536, 65_536, 12_345];
    lengths.forEach((length, i) => {
      const fill = (i * 37 + 11) & 0xff;
      source.fill(fill, 0, length);
      copies.push({ copy: slabCopy(source.subarray(0, length)), fill, length });
      source.fill(0xee);
    });
    for (const { copy, fill, length } of copies) {
      expect(copy.length).toBe(length);
      expect(copy.every((octet) => octet === fill)).toBe(true);
    }
  });

  it('gives a copy larger than a quarter slab its own buffer', () => {
    const source = Buffer.alloc(100_000, 0x41);
    const copy = slabCopy(source);
    source.fill(0);
    expect(copy.length).toBe(100_000);
    expect(copy.every((octet) => octet === 0x41)).toBe(true);
    expect(copy.byteOffset).toBe(0);
  });

  it('cuts small copies from one slab, 8-octet aligned', () => {
    // Quarter-slab copies until one opens a new slab (offset 0): the rest of it is free.
    while (slabCopy(Buffer.alloc(64 * 1024)).byteOffset !== 0);
    const a = slabCopy(Buffer.from('abc'));
    const b = slabCopy(Buffer.from('defgh'));
    expect(a.toString()).toBe('abc');
    expect(b.toString()).toBe('defgh');
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset - a.byteOffset).toBe(8);
    expect(b.byteOffset % 8).toBe(0);
  });

  it('cannot be emptied by a hook that transfers a copy to a worker', () => {
    const { port1, port2 } = new MessageChannel();
    const copy = slabCopy(Buffer.from('kept by a hook'));
    try {
      // Node 20 copies an untransferable buffer; later versions refuse the transfer.
      port1.postMessage(copy, [copy.buffer as ArrayBuffer]);
    } catch {
      // refused: nothing moved
    } finally {
      port1.close();
      port2.close();
    }
    expect(copy.toString()).toBe('kept by a hook');
    expect(slabCopy(Buffer.from('next session')).toString()).toBe('next session');
  });
});
