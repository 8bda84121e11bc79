import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DotDataReader, type LineEndingViolation } from './data-reader.js';
import { indexOfLineSkipper, type LineSkipper, wasmLineSkipper } from './line-skip.js';

interface Outcome {
  body: string;
  end: number;
  violation: LineEndingViolation | null;
  oversized: boolean;
  size: number;
}

const lenient = { maxBytes: 1 << 20, strictLineEndings: false };

/** Feeds `input` split at the given offsets (repeats give empty pieces) and collects what the reader emits. */
function readWith(skipper: LineSkipper, input: string, splits: number[], options: { maxBytes: number; strictLineEndings: boolean }): Outcome {
  const reader = new DotDataReader(options, skipper);
  const bytes = Buffer.from(input, 'latin1');
  const out: Buffer[] = [];
  const cuts = [0, ...splits, bytes.length];
  const outcome = (end: number): Outcome => ({ body: Buffer.concat(out).toString('latin1'), end, violation: reader.violation, oversized: reader.oversized, size: reader.size });
  let consumed = 0;
  for (let i = 0; i + 1 < cuts.length; i += 1) {
    const piece = bytes.subarray(cuts[i], cuts[i + 1]);
    const end = reader.feed(piece, (s) => out.push(Buffer.from(s)));
    if (end !== -1) return outcome(consumed + end);
    consumed += piece.length;
  }
  return outcome(-1);
}

describe.each([
  ['WebAssembly', wasmLineSkipper()],
  ['indexOf', indexOfLineSkipper()],
] as const)('DotDataReader with the %s line skipper', (_name, skipper) => {
  const read = (input: string, splits: number[] = [], options = lenient): Outcome => readWith(skipper, input, splits, options);

  it.each([
    ['plain message', 'Subject: x\r\n\r\nhello\r\n.\r\n', 'Subject: x\r\n\r\nhello\r\n'],
    ['empty message', '.\r\n', ''],
    ['stuffed dot removed', '..hidden\r\n.\r\n', '.hidden\r\n'],
    ['dot line that is not the end', '...\r\n.\r\n', '..\r\n'],
    ['dot inside a line kept', 'a.b\r\n. x\r\n.\r\n', 'a.b\r\n x\r\n'],
    ['8-bit octets untouched', 'caf\xe9 \xff\x00\x80\r\n.\r\n', 'caf\xe9 \xff\x00\x80\r\n'],
  ])('%s', (_name, input, body) => {
    const outcome = read(input);
    expect(outcome.body).toBe(body);
    expect(outcome.end).toBe(input.length);
    expect(outcome.violation).toBeNull();
  });

  // Every smuggling variant: none of these may end the data; only the final CRLF.CRLF does.
  it.each([
    ['\\n.\\n', 'a\n.\nMAIL FROM:<x@evil>\r\n', 'bare-lf'],
    ['\\r.\\r', 'a\r.\rMAIL FROM:<x@evil>\r\n', 'bare-cr'],
    ['\\n.\\r\\n', 'a\n.\r\nMAIL FROM:<x@evil>\r\n', 'bare-lf'],
    ['\\r\\n.\\n', 'a\r\n.\nMAIL FROM:<x@evil>\r\n', 'bare-lf'],
    ['\\r\\n.\\r', 'a\r\n.\rMAIL FROM:<x@evil>\r\n', 'bare-cr'],
    ['\\r.\\r\\n', 'a\r.\r\nMAIL FROM:<x@evil>\r\n', 'bare-cr'],
    ['\\n.\\r', 'a\n.\rMAIL FROM:<x@evil>\r\n', 'bare-lf'],
  ])('smuggling variant %s does not end the data', (_name, smuggled, violation) => {
    const input = `${smuggled}.\r\n`;
    const outcome = read(input);
    expect(outcome.end).toBe(input.length);
    expect(outcome.violation).toBe(violation);
  });

  it('a real CRLF.CRLF after a bare CR still ends the data (every server agrees on it)', () => {
    const outcome = read('a\r\r\n.\r\nQUIT\r\n');
    expect(outcome.end).toBe(7);
    expect(outcome.violation).toBe('bare-cr');
  });

  it('passes bare line endings through unchanged when not strict', () => {
    const outcome = read('a\nb\rc\r\n.\r\n');
    expect(outcome.body).toBe('a\nb\rc\r\n');
  });

  it('stops emitting after a violation when strict', () => {
    const outcome = read('ok\r\nbad\nmore\r\n.\r\n', [], { maxBytes: 1000, strictLineEndings: true });
    expect(outcome.violation).toBe('bare-lf');
    expect(outcome.body).not.toContain('more');
    expect(outcome.end).toBe(17);
  });

  it('counts past the size limit and marks the message oversized', () => {
    const outcome = read('0123456789\r\n.\r\n', [], { maxBytes: 5, strictLineEndings: true });
    expect(outcome.oversized).toBe(true);
    expect(outcome.end).toBe(15);
  });

  it('reports the offset just past the end marker, leaving pipelined commands', () => {
    const input = 'x\r\n.\r\nQUIT\r\n';
    expect(read(input).end).toBe(6);
  });

  it('gives the same result for every split point (two and three pieces)', () => {
    const input = '..a\r\n.\r\r\n\r\n..\r\n.b\r\nc\r\n.\r\nNEXT';
    const whole = read(input);
    expect(whole.body).toBe('.a\r\n\r\r\n\r\n.\r\nb\r\nc\r\n');
    for (let i = 1; i < input.length; i += 1) {
      expect(read(input, [i])).toEqual(whole);
      for (let j = i + 1; j < input.length; j += 1) expect(read(input, [i, j])).toEqual(whole);
    }
  });

  it('gives the same result when fed one octet at a time', () => {
    const input = 'a\r\n..b\r\n\n.\n\r\n.\r\n';
    const splits = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    expect(read(input, splits)).toEqual(read(input));
  });

  it('agrees with an octet-at-a-time model of RFC 5321 data on random input, splits and limits', () => {
    const octet = fc.constantFrom(0x0d, 0x0a, 0x2e, 0x61, 0xff);
    fc.assert(
      fc.property(fc.array(octet, { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 }), fc.nat(250), fc.boolean(), (octets, cuts, maxBytes, strict) => {
        const text = Buffer.from(octets).toString('latin1');
        const splits = cuts.map((c) => c % (text.length + 1)).sort((a, b) => a - b);
        const outcome = read(text, splits, { maxBytes, strictLineEndings: strict });
        const model = modelRead(text);
        expect({ end: outcome.end, violation: outcome.violation, size: outcome.size }).toEqual({ end: model.end, violation: model.violation, size: model.body.length });
        expect(outcome.oversized).toBe(model.body.length > maxBytes);
        // Emitting stops at an oversize, and in strict mode at a violation; until then it is exact.
        expect(model.body.startsWith(outcome.body)).toBe(true);
        if (!outcome.oversized && (!strict || outcome.violation === null)) expect(outcome.body).toBe(model.body);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps a CR that ended one chunk across an empty chunk', () => {
    const input = 'a\r\n.\r\n';
    expect(read(input, [2, 2, 2])).toEqual(read(input));
    expect(read(input, [2, 2]).violation).toBeNull();
  });

  it('finds dots, bare line endings and the end in a chunk larger than the line skipper\'s window', () => {
    // 300 KiB of 100-octet lines in one chunk, with a stuffed dot line, a bare CR and a bare LF
    // placed across the skipper's 128 KiB window edges.
    const line = `${'x'.repeat(98)}\r\n`;
    let text = line.repeat(3000);
    const at = (offset: number, insert: string): void => void (text = text.slice(0, offset) + insert + text.slice(offset));
    at(2 * 131072 - 1, '\r');
    at(131072 - 2, '\r\n..dot\r\n');
    at(131072 * 2 + 50, '\n');
    text += '.\r\nQUIT\r\n';
    const outcome = read(text);
    expect({ body: outcome.body, end: outcome.end, violation: outcome.violation }).toEqual(modelRead(text));
    expect(outcome.body).toContain('\r\n.dot\r\n');
    expect(outcome.violation).toBe('bare-cr');
    expect(outcome.end).toBe(text.length - 6);
  });
});

/** The reader's rules one octet at a time, for whole input (held-back octets at its end are not emitted). */
function modelRead(text: string): { body: string; end: number; violation: LineEndingViolation | null } {
  let body = '';
  let violation: LineEndingViolation | null = null;
  let lineStart = true;
  const flag = (kind: LineEndingViolation): void => void (violation ??= kind);
  for (let i = 0; i < text.length; ) {
    if (lineStart && text[i] === '.') {
      if (text.startsWith('.\r\n', i)) return { body, end: i + 3, violation };
      if (i + 1 >= text.length || (text[i + 1] === '\r' && i + 2 >= text.length)) break;
      i += 1;
    }
    lineStart = false;
    if (i >= text.length) break;
    const c = text[i]!;
    if (c === '\r' && text[i + 1] === '\n') {
      body += '\r\n';
      i += 2;
      lineStart = true;
      continue;
    }
    if (c === '\r' && i + 1 < text.length) flag('bare-cr');
    if (c === '\n') flag('bare-lf');
    body += c;
    i += 1;
  }
  return { body, end: -1, violation };
}
