import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  HeaderTooLargeError,
  encodeFields,
  hasHeader,
  headerBlockEnd,
  prependFields,
  readHeaderBlock,
  readHeaderFields,
  splitHeaderBlock,
} from './headers.js';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Binary body bytes that a text decoder would mangle: NUL, 0xFF, lone CR, lone LF, invalid UTF-8. */
const binary = Buffer.from([0x00, 0xff, 0x0d, 0x41, 0x0a, 0xc3, 0x28, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0x80]);

interface SplitCase {
  readonly name: string;
  readonly message: Buffer;
  readonly header: string;
}

const splitCases: readonly SplitCase[] = [
  { name: 'header and body', message: b('From: a@x\r\nTo: b@y\r\n\r\nHello\r\n'), header: 'From: a@x\r\nTo: b@y\r\n' },
  { name: 'folded field', message: b('Subject: one\r\n two\r\n\tthree\r\n\r\nbody'), header: 'Subject: one\r\n two\r\n\tthree\r\n' },
  { name: 'no body, final CRLF', message: b('From: a@x\r\nSubject: s\r\n'), header: 'From: a@x\r\nSubject: s\r\n' },
  { name: 'no body, no final CRLF', message: b('From: a@x\r\nSubject: s'), header: 'From: a@x\r\nSubject: s' },
  { name: 'no body, unfinished continuation', message: b('Subject: s\r\n  more'), header: 'Subject: s\r\n  more' },
  { name: 'no header, separator first', message: b('\r\nbody only\r\n'), header: '' },
  { name: 'no header, text first', message: b('Hello world\r\n\r\nmore\r\n'), header: '' },
  { name: 'no header, continuation first', message: b(' X: y\r\n\r\n'), header: '' },
  { name: 'no header, mbox From line', message: b('From a@x Wed Nov 25 09:02:05 2026\r\nX: y\r\n'), header: '' },
  { name: 'no header, colon first', message: b(': value\r\n\r\n'), header: '' },
  { name: 'no header, 8-bit name', message: b('S\xfcbject: x\r\n\r\n'), header: '' },
  { name: 'no header, name without colon at end', message: b('Subject'), header: '' },
  { name: 'empty message', message: b(''), header: '' },
  { name: 'obsolete WSP before colon', message: b('Subject : x\r\n\r\nb'), header: 'Subject : x\r\n' },
  { name: 'non-field line ends the block', message: b('A: b\r\nnot a field\r\nC: d\r\n'), header: 'A: b\r\n' },
  { name: 'line with a space in the name ends the block', message: b('A: b\r\nBad Name: x\r\n'), header: 'A: b\r\n' },
  { name: 'bare LF lines', message: b('A: b\nC: d\n\nbody\n'), header: 'A: b\nC: d\n' },
  { name: 'lone CR after header', message: b('A: b\r\n\rX'), header: 'A: b\r\n' },
  { name: 'lone CR at the very end', message: b('A: b\r\n\r'), header: 'A: b\r\n' },
  { name: 'only the first empty line counts', message: b('A: b\r\n\r\nC: d\r\n\r\nx'), header: 'A: b\r\n' },
  { name: 'empty value', message: b('A:\r\nB:\r\n\r\n'), header: 'A:\r\nB:\r\n' },
  { name: 'binary body', message: Buffer.concat([b('A: b\r\n\r\n'), binary]), header: 'A: b\r\n' },
  { name: 'UTF-8 value (RFC 6532)', message: Buffer.concat([b('Subject: '), Buffer.from('héllo ☃', 'utf8'), b('\r\n\r\n'), binary]), header: `Subject: ${Buffer.from('héllo ☃', 'utf8').toString('latin1')}\r\n` },
];

describe('splitHeaderBlock', () => {
  it.each(splitCases)('$name', ({ message, header }) => {
    const split = splitHeaderBlock(message);
    expect(split.header.toString('latin1')).toBe(header);
    expect(headerBlockEnd(message)).toBe(Buffer.byteLength(header, 'latin1'));
    expect(Buffer.concat([split.header, split.body]).equals(message)).toBe(true);
  });

  it('puts the separator line at the start of the body', () => {
    const { body } = splitHeaderBlock(b('A: b\r\n\r\nbody'));
    expect(body.toString('latin1')).toBe('\r\nbody');
  });
});

/** An async source yielding the given chunks, recording how many were pulled and whether it was returned. */
function trackedSource(chunks: readonly Buffer[]): { source: AsyncIterable<Buffer>; pulled: () => number; returned: () => boolean } {
  let pulled = 0;
  let returned = false;
  const source = (async function* generate(): AsyncGenerator<Buffer> {
    try {
      for (const chunk of chunks) {
        pulled += 1;
        yield chunk;
      }
    } finally {
      returned = pulled < chunks.length;
    }
  })();
  return { source, pulled: () => pulled, returned: () => returned };
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of source) out.push(chunk);
  return out;
}

/** Cut `message` at the given offsets. */
function chunksAt(message: Buffer, cuts: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let last = 0;
  for (const cut of [...cuts, message.length]) {
    chunks.push(Buffer.from(message.subarray(last, cut)));
    last = cut;
  }
  return chunks;
}

describe('readHeaderBlock', () => {
  const limit = { maxHeaderBytes: 1 << 16 };

  it.each(splitCases)('$name: byte-exact at every two-chunk split point', async ({ message, header }) => {
    for (let cut = 0; cut <= message.length; cut += 1) {
      const { source } = trackedSource(chunksAt(message, [cut]));
      const split = await readHeaderBlock(source, limit);
      expect(split.header.toString('latin1'), `cut at ${cut}`).toBe(header);
      const rest = await collect(split.rest);
      expect(Buffer.concat([split.header, ...rest]).equals(message), `cut at ${cut}`).toBe(true);
    }
  });

  it.each(splitCases)('$name: byte-exact with one-byte chunks and every three-chunk split', async ({ message, header }) => {
    const oneByte = [...message].map((_, i) => i + 1).slice(0, -1);
    const cutSets: number[][] = [oneByte];
    for (let i = 0; i <= message.length; i += 1) for (let j = i; j <= message.length; j += 1) cutSets.push([i, j]);
    for (const cuts of cutSets) {
      const split = await readHeaderBlock(trackedSource(chunksAt(message, cuts)).source, limit);
      expect(split.header.toString('latin1'), `cuts ${cuts.join(',')}`).toBe(header);
      const rest = await collect(split.rest);
      expect(Buffer.concat([split.header, ...rest]).equals(message), `cuts ${cuts.join(',')}`).toBe(true);
    }
  });

  it('agrees with splitHeaderBlock on random messages cut at random points', async () => {
    const piece = fc.constantFrom('A', 'b', '-', ':', ' ', '\t', '\r', '\n', '\r\n', '\xff', '\x00', 'X-Y: z\r\n');
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), async (pieces, rawCuts) => {
        const message = b(pieces.join(''));
        const cuts = rawCuts.map((c) => c % (message.length + 1)).sort((x, y) => x - y);
        const split = await readHeaderBlock(trackedSource(chunksAt(message, cuts)).source, limit);
        expect(split.header.equals(splitHeaderBlock(message).header)).toBe(true);
        expect(Buffer.concat([split.header, ...(await collect(split.rest))]).equals(message)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('buffers only up to the chunk where the header ends, then passes later chunks through as they are', async () => {
    const later = [b('second body chunk'), Buffer.from(binary)];
    const tracked = trackedSource([b('A: b\r\nC: d'), b('\r\n\r\nbody start'), ...later]);
    const split = await readHeaderBlock(tracked.source, limit);
    expect(tracked.pulled()).toBe(2);
    expect(split.header.toString('latin1')).toBe('A: b\r\nC: d\r\n');
    const rest = await collect(split.rest);
    expect(rest[0]?.toString('latin1')).toBe('\r\nbody start');
    expect(rest[1]).toBe(later[0]);
    expect(rest[2]).toBe(later[1]);
  });

  it('accepts a header of exactly maxHeaderBytes', async () => {
    const split = await readHeaderBlock(trackedSource([b('A: 12\r\n\r\nbody')]).source, { maxHeaderBytes: 7 });
    expect(split.header.length).toBe(7);
  });

  it.each([
    { name: 'header one byte over the limit', chunks: ['A: 123\r\n\r\nbody'], limit: 7 },
    { name: 'header never ends', chunks: ['A: 1', '23456789', '0123456789', '0123456789'], limit: 16 },
    { name: 'no body, header over the limit', chunks: ['A: 123', '45678'], limit: 8 },
  ])('fails with HeaderTooLargeError: $name', async ({ chunks, limit: maxHeaderBytes }) => {
    const tracked = trackedSource(chunks.map(b));
    await expect(readHeaderBlock(tracked.source, { maxHeaderBytes })).rejects.toBeInstanceOf(HeaderTooLargeError);
  });

  it('returns the source iterator when the limit is hit mid-stream', async () => {
    const tracked = trackedSource(['A: 1', '23456789', '0123456789', '0123456789', 'x'].map(b));
    await expect(readHeaderBlock(tracked.source, { maxHeaderBytes: 16 })).rejects.toThrow(/exceeds 16 bytes/);
    expect(tracked.returned()).toBe(true);
  });

  it('returns the source iterator when the consumer leaves rest early', async () => {
    const tracked = trackedSource(['A: b\r\n\r\n', 'one', 'two', 'three'].map(b));
    const split = await readHeaderBlock(tracked.source, limit);
    for await (const chunk of split.rest) {
      if (chunk.toString() === 'one') break;
    }
    expect(tracked.returned()).toBe(true);
  });

  it('skips empty chunks', async () => {
    const split = await readHeaderBlock(trackedSource([b(''), b('A: b\r\n'), b(''), b('\r\nx'), b('')]).source, limit);
    expect(split.header.toString()).toBe('A: b\r\n');
    expect(Buffer.concat(await collect(split.rest)).toString()).toBe('\r\nx');
  });
});

describe('readHeaderFields', () => {
  it.each([
    { name: 'simple', header: 'From: a@x\r\nTo: b@y\r\n', fields: [['From', 'a@x'], ['To', 'b@y']] },
    { name: 'folded value is unfolded, WSP kept', header: 'Subject: one\r\n two\r\n\tthree\r\n', fields: [['Subject', 'one two\tthree']] },
    { name: 'surrounding WSP trimmed', header: 'X:   spaced  \r\n', fields: [['X', 'spaced']] },
    { name: 'empty value', header: 'X:\r\nY: \r\n', fields: [['X', ''], ['Y', '']] },
    { name: 'obsolete WSP before colon', header: 'Subject : x\r\n', fields: [['Subject', 'x']] },
    { name: 'colon in value', header: 'Date: Wed, 25 Nov 2026 09:02:05 +0000\r\n', fields: [['Date', 'Wed, 25 Nov 2026 09:02:05 +0000']] },
    { name: 'no final CRLF', header: 'A: b\r\nC: d', fields: [['A', 'b'], ['C', 'd']] },
    { name: 'bare LF and folding', header: 'A: b\n c\nD: e\n', fields: [['A', 'b c'], ['D', 'e']] },
    { name: 'whole message: body ignored', header: 'A: b\r\n\r\nC: d\r\n', fields: [['A', 'b']] },
    { name: 'no header', header: '\r\nA: b\r\n', fields: [] },
  ])('$name', ({ header, fields }) => {
    const buf = b(header);
    const read = readHeaderFields(buf);
    expect(read.map((f) => [f.name, f.value])).toEqual(fields);
    expect(Buffer.concat(read.map((f) => f.raw)).equals(splitHeaderBlock(buf).header)).toBe(true);
  });

  it('decodes values as UTF-8 by default and as latin1 on request', () => {
    const buf = Buffer.concat([b('Subject: '), Buffer.from('Grüße ☃', 'utf8'), b('\r\n')]);
    expect(readHeaderFields(buf)[0]?.value).toBe('Grüße ☃');
    const latin1 = readHeaderFields(buf, { encoding: 'latin1' })[0]?.value ?? '';
    expect(Buffer.from(latin1, 'latin1').equals(Buffer.from('Grüße ☃', 'utf8'))).toBe(true);
  });

  it('keeps raw bytes exact for malformed UTF-8', () => {
    const buf = Buffer.concat([b('X: '), Buffer.from([0xc3, 0x28, 0xff]), b('\r\n')]);
    const [field] = readHeaderFields(buf);
    expect(field?.raw.equals(buf)).toBe(true);
  });
});

describe('hasHeader', () => {
  const header = b('From: a@x\r\nMessage-ID : <1@x>\r\nSubject: Date: tricky\r\n X-Folded: no\r\n\r\nDate: in body\r\n');
  it.each([
    { name: 'From', found: true },
    { name: 'from', found: true },
    { name: 'FROM', found: true },
    { name: 'message-id', found: true },
    { name: 'Subject', found: true },
    { name: 'Date', found: false },
    { name: 'X-Folded', found: false },
    { name: 'Fro', found: false },
    { name: 'From:', found: false },
    { name: 'Message-IDs', found: false },
    { name: '', found: false },
  ])('$name → $found', ({ name, found }) => {
    expect(hasHeader(header, name)).toBe(found);
  });
});

describe('prependFields', () => {
  it.each([
    { name: 'fields without CRLF get one', fields: ['Return-Path: <a@x>', 'Delivered-To: b@y'], head: 'Return-Path: <a@x>\r\nDelivered-To: b@y\r\n' },
    { name: 'fields with CRLF are kept as they are', fields: ['Received: from x\r\n\tby y; date\r\n'], head: 'Received: from x\r\n\tby y; date\r\n' },
    { name: 'no fields', fields: [], head: '' },
  ])('$name', async ({ fields, head }) => {
    const body = [b('A: b\r\n\r\n'), Buffer.from(binary)];
    const out = await collect(prependFields(fields, body));
    expect(Buffer.concat(out).equals(Buffer.concat([b(head), ...body]))).toBe(true);
    // Source chunks pass through as the very same Buffers.
    expect(out.slice(-2)[0]).toBe(body[0]);
    expect(out.slice(-1)[0]).toBe(body[1]);
  });

  it('is byte-exact at every chunk split point', async () => {
    const message = Buffer.concat([b('A: b\r\n\r\n'), binary]);
    for (let cut = 0; cut <= message.length; cut += 1) {
      const out = await collect(prependFields(['X-Seen: yes'], chunksAt(message, [cut])));
      expect(Buffer.concat(out).equals(Buffer.concat([b('X-Seen: yes\r\n'), message]))).toBe(true);
    }
  });

  it.each([
    { name: 'CRLF then a new field', field: 'X-A: b\r\nBcc: evil@x' },
    { name: 'bare LF', field: 'X-A: b\nBcc: evil@x' },
    { name: 'bare CR', field: 'X-A: b\rBcc: evil@x' },
    { name: 'trailing empty line', field: 'X-A: b\r\n\r\n' },
    { name: 'NUL', field: 'X-A: b\u0000c' },
    { name: 'not a field', field: 'just text' },
    { name: 'space in name', field: 'X A: b' },
    { name: 'line over 998 octets', field: `X-A: ${'a'.repeat(994)}` },
  ])('refuses $name, at the call', ({ field }) => {
    expect(() => prependFields([field], [b('x')])).toThrow();
  });

  it('accepts folding and a line of exactly 998 octets', () => {
    expect(encodeFields(['X-A: b\r\n\tc', `X-B: ${'a'.repeat(993)}`]).toString()).toBe(`X-A: b\r\n\tc\r\nX-B: ${'a'.repeat(993)}\r\n`);
  });
});
