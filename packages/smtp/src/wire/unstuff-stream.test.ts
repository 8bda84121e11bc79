import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DotStuffStream } from './dot-stuff.js';
import { DotUnstuffStream } from './unstuff-stream.js';

/** Pipes `pieces` through a DotUnstuffStream; returns the output, the trailing octets, or the error. */
async function unstuff(pieces: string[], options = {}): Promise<{ body: string; trailing: string } | Error> {
  const stream = new DotUnstuffStream(options);
  const trailing: Buffer[] = [];
  stream.on('trailing', (b: Buffer) => trailing.push(b));
  Readable.from(pieces.map((p) => Buffer.from(p, 'latin1'))).pipe(stream);
  try {
    const out: Buffer[] = [];
    for await (const chunk of stream) out.push(chunk as Buffer);
    return { body: Buffer.concat(out).toString('latin1'), trailing: Buffer.concat(trailing).toString('latin1') };
  } catch (error) {
    return error as Error;
  }
}

describe('DotUnstuffStream', () => {
  it('unstuffs, stops at the end marker and reports what followed', async () => {
    expect(await unstuff(['..a\r\nb\r', '\n.', '\r\nQUIT\r\n'])).toEqual({ body: '.a\r\nb\r\n', trailing: 'QUIT\r\n' });
  });

  it('fails on data without an end marker, and on bare LF when strict', async () => {
    expect(await unstuff(['abc\r\n'])).toBeInstanceOf(Error);
    expect(((await unstuff(['a\n.\n\r\n.\r\n'])) as Error).message).toBe('bare LF in message data');
    // A bare LF never starts a line: only the final CRLF.CRLF ends the data.
    expect(await unstuff(['a\n.\n\r\n.\r\n'], { strictLineEndings: false })).toEqual({ body: 'a\n.\n\r\n', trailing: '' });
  });

  it('inverts the client-side DotStuffStream byte for byte', async () => {
    const message = Buffer.from('.\r\n..\r\n.x\r\nplain\r\n\xff\x00.\r\n', 'latin1');
    const stuffed: Buffer[] = [];
    const stuffer = new DotStuffStream();
    Readable.from([message]).pipe(stuffer);
    for await (const c of stuffer) stuffed.push(c as Buffer);
    const wire = Buffer.concat(stuffed).toString('latin1');
    expect(await unstuff([wire])).toEqual({ body: message.toString('latin1'), trailing: '' });
  });
});
