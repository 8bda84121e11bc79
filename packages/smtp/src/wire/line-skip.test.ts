import { readFile } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineSkipModulePath, lineSkipModuleSource } from '../../scripts/wasm.js';
import { indexOfLineSkipper, type LineSkipper, wasmLineSkipper } from './line-skip.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** A CRLF at `at` followed, inside the chunk, by an octet other than '.'. */
const plainBreak = (chunk: Buffer, at: number): boolean => chunk[at] === CR && at + 2 < chunk.length && chunk[at + 1] === LF && chunk[at + 2] !== DOT;

/** The contract, one octet at a time. */
function modelSkip(chunk: Buffer, from: number): number {
  for (let i = from; i < chunk.length; i += 1) {
    if (chunk[i] !== CR && chunk[i] !== LF) continue;
    if (!plainBreak(chunk, i)) return i;
    i += 1;
  }
  return chunk.length;
}

/** Every offset a reader walking the whole chunk with `skipper` has to look at. */
function stops(skipper: LineSkipper, chunk: Buffer): number[] {
  const found: number[] = [];
  for (let i = 0; ; ) {
    const at = skipper.skip(chunk, i);
    if (at >= chunk.length) break;
    if (plainBreak(chunk, at)) {
      i = at + 2;
      continue;
    }
    found.push(at);
    i = at + 1;
  }
  skipper.release();
  return found;
}

describe('line skippers', () => {
  const skippers = [
    ['WebAssembly', wasmLineSkipper()],
    ['indexOf', indexOfLineSkipper()],
  ] as const;

  it('the assembled module in line-skip-module.ts is line-skip.wat as it is now', async () => {
    expect(await readFile(lineSkipModulePath, 'utf8')).toBe(await lineSkipModuleSource());
  });

  describe.each(skippers)('%s', (_name, skipper) => {
    it.each([
      ['ordinary lines', 'ab\r\ncd\r\nef', 0, 10],
      ['a line that starts with a dot', 'ab\r\n.x\r\n', 0, 2],
      ['the end marker', 'ab\r\n.\r\n', 0, 2],
      ['a bare LF', 'ab\ncd\r\nef', 0, 2],
      ['a bare CR', 'ab\rcd\r\nef', 0, 2],
      ['a CR at the end', 'abc\r', 0, 3],
      ['a CRLF at the end (the next line start is not in the chunk)', 'abc\r\n', 0, 3],
      ['from an LF', '\nab', 0, 0],
      ['from the end', 'ab', 2, 2],
      ['past a long run of plain lines', `${'0123456789abcdef\r\n'.repeat(40)}x\n`, 0, 18 * 40 + 1],
    ])('%s', (_case, text, from, expected) => {
      expect(skipper.skip(Buffer.from(text, 'latin1'), from)).toBe(expected);
      skipper.release();
    });

    it('agrees with the model on random chunks and offsets', () => {
      const octet = fc.constantFrom(CR, LF, DOT, 0x61, 0x00, 0xff);
      fc.assert(
        fc.property(fc.array(octet, { maxLength: 100 }), fc.nat(), (octets, start) => {
          const chunk = Buffer.from(octets);
          const from = start % (chunk.length + 1);
          expect(skipper.skip(chunk, from)).toBe(modelSkip(chunk, from));
          skipper.release();
        }),
        { numRuns: 3000 },
      );
    });
  });

  it('stop at the same places in a chunk larger than the WebAssembly window', () => {
    // 400 KiB: plain lines with dots, bare CRs and LFs, and CRLFs split across 128 KiB edges.
    const chunk = Buffer.from(`${'x'.repeat(60)}\r\n`.repeat(6600), 'latin1');
    for (const edge of [131072, 262144, 393216]) {
      chunk[edge - 1] = CR;
      chunk[edge] = LF;
      chunk[edge + 1] = DOT;
      chunk[edge - 40] = LF;
      chunk[edge + 40] = CR;
    }
    const [wasm, indexOf] = skippers.map(([, skipper]) => stops(skipper, chunk));
    expect(wasm).toEqual(indexOf);
    expect(wasm).toContain(131072 - 1);
  });

  it('reads the chunk anew after release', () => {
    const skipper = wasmLineSkipper();
    const chunk = Buffer.from('abcdef\r\nxyz', 'latin1');
    expect(skipper.skip(chunk, 0)).toBe(chunk.length);
    skipper.release();
    chunk[2] = LF;
    expect(skipper.skip(chunk, 0)).toBe(2);
  });
});
