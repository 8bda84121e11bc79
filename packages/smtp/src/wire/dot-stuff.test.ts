import { describe, expect, it } from 'vitest';
import { DATA_END, DATA_END_WITH_CRLF, DotStuffer, DotStuffStream, dataTerminator, dotStuff } from './dot-stuff.js';

/** A straightforward per-byte reference model of stuffing with line-ending normalisation. */
function reference(input: Buffer): Buffer {
  const out: number[] = [];
  let lineStart = true;
  for (let i = 0; i < input.length; i += 1) {
    const b = input[i] as number;
    if (b === 0x0d) {
      out.push(0x0d, 0x0a);
      if (input[i + 1] === 0x0a) i += 1;
      lineStart = true;
      continue;
    }
    if (b === 0x0a) {
      out.push(0x0d, 0x0a);
      lineStart = true;
      continue;
    }
    if (lineStart && b === 0x2e) out.push(0x2e);
    out.push(b);
    lineStart = false;
  }
  if (out.length > 0 && !lineStart) out.push(0x0d, 0x0a);
  out.push(0x2e, 0x0d, 0x0a);
  return Buffer.from(out);
}

function stuffChunks(chunks: Buffer[]): Buffer {
  const s = new DotStuffer();
  return Buffer.concat([...chunks.map((c) => s.push(c)), s.end()]);
}

const b = (text: string) => Buffer.from(text, 'latin1');

describe('dotStuff', () => {
  it.each([
    ['', '.\r\n'],
    ['a\r\n', 'a\r\n.\r\n'],
    ['a', 'a\r\n.\r\n'],
    ['.\r\n', '..\r\n.\r\n'],
    ['.', '..\r\n.\r\n'],
    ['..\r\n.x\r\nx.\r\n', '...\r\n..x\r\nx.\r\n.\r\n'],
    ['a\r\n.\r\nb\r\n', 'a\r\n..\r\nb\r\n.\r\n'],
    // Bare LF and bare CR become CRLF, and the next line is stuffed (no smuggling).
    ['a\n.\nb\r\n', 'a\r\n..\r\nb\r\n.\r\n'],
    ['a\r.\rb', 'a\r\n..\r\nb\r\n.\r\n'],
    ['a\r\r\n', 'a\r\n\r\n.\r\n'],
    ['a\r', 'a\r\n.\r\n'],
    ['\r\n', '\r\n.\r\n'],
  ])('%j', (input, expected) => {
    expect(dotStuff(b(input)).toString('latin1')).toBe(expected);
    expect(reference(b(input)).toString('latin1')).toBe(expected);
  });

  it('passes an untouched chunk through as the same Buffer', () => {
    const chunk = b('Subject: x\r\n\r\nhello\r\n');
    expect(new DotStuffer().push(chunk)).toBe(chunk);
  });

  it('keeps 8-bit and NUL octets intact', () => {
    const input = Buffer.concat([Buffer.from('Grüße\r\n', 'utf8'), Buffer.from([0, 0xff, 0x80, 0x0d, 0x0a])]);
    expect(dotStuff(input)).toEqual(Buffer.concat([input, DATA_END]));
  });

  it('gives the same bytes for every split into two and three chunks', () => {
    const input = b('.a\r\n..\r\n.\r\nx\ny\r.\r\n\r\n.\n.\r\r\n.\rz.\r\n');
    const expected = reference(input);
    for (let i = 0; i <= input.length; i += 1) {
      expect(stuffChunks([input.subarray(0, i), input.subarray(i)])).toEqual(expected);
      for (let j = i; j <= input.length; j += 1) {
        expect(stuffChunks([input.subarray(0, i), input.subarray(i, j), input.subarray(j)])).toEqual(expected);
      }
    }
  });

  it('matches the reference model on random input fed byte by byte and in random chunks', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = [0x2e, 0x0d, 0x0a, 0x61, 0x20, 0xc3, 0x00];
    for (let round = 0; round < 300; round += 1) {
      const input = Buffer.from(Array.from({ length: rnd(60) }, () => alphabet[rnd(alphabet.length)] as number));
      const expected = reference(input);
      expect(stuffChunks([...input].map((x) => Buffer.from([x])))).toEqual(expected);
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length; ) {
        const n = 1 + rnd(8);
        chunks.push(input.subarray(at, at + n));
        at += n;
      }
      expect(stuffChunks(chunks)).toEqual(expected);
    }
  });

  it('terminator adds CRLF only when missing', () => {
    expect(dataTerminator(true)).toBe(DATA_END);
    expect(dataTerminator(false)).toBe(DATA_END_WITH_CRLF);
  });

  it('DotStuffStream stuffs and terminates, and refuses strings', async () => {
    const stream = new DotStuffStream();
    const out: Buffer[] = [];
    stream.on('data', (c: Buffer) => out.push(c));
    const done = new Promise((resolve) => stream.on('end', resolve));
    stream.write(b('.a\r'));
    stream.write(b('\n.'));
    stream.end(b('b'));
    await done;
    expect(Buffer.concat(out).toString('latin1')).toBe('..a\r\n..b\r\n.\r\n');

    const raw = new DotStuffStream({ terminate: false });
    const rawOut: Buffer[] = [];
    raw.on('data', (c: Buffer) => rawOut.push(c));
    const rawDone = new Promise((resolve) => raw.on('end', resolve));
    raw.end(b('x\r'));
    await rawDone;
    expect(Buffer.concat(rawOut).toString('latin1')).toBe('x\r\n');

    const strings = new DotStuffStream();
    const failed = new Promise<Error>((resolve) => strings.on('error', resolve));
    strings.write('text' as unknown as Buffer);
    expect((await failed).message).toMatch(/Buffers only/);
  });

  it('stuffs 8 MB quickly', () => {
    const line = b(`.${'x'.repeat(76)}\r\n${'y'.repeat(76)}\r\n`);
    const big = Buffer.concat(Array.from({ length: Math.ceil((8 << 20) / line.length) }, () => line));
    const started = performance.now();
    const s = new DotStuffer();
    let n = 0;
    for (let at = 0; at < big.length; at += 65536) n += s.push(big.subarray(at, at + 65536)).length;
    expect(n).toBe(big.length + big.length / line.length);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
