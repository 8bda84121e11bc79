import { describe, expect, it } from 'vitest';
import { ReplyParser, ReplyProtocolError } from './parse.js';

const parseAll = (text: string | Buffer, parser = new ReplyParser()) => parser.push(Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8'));

describe('ReplyParser', () => {
  it.each([
    ['250 ok\r\n', { code: 250, enhanced: null, lines: ['ok'] }],
    ['250 2.1.0 Sender ok\r\n', { code: 250, enhanced: '2.1.0', lines: ['Sender ok'] }],
    ['550 5.1.1\r\n', { code: 550, enhanced: '5.1.1', lines: [''] }],
    ['250\r\n', { code: 250, enhanced: null, lines: [''] }],
    ['250 \r\n', { code: 250, enhanced: null, lines: [''] }],
    // Class mismatch: the text stays whole.
    ['250 5.1.1 odd\r\n', { code: 250, enhanced: null, lines: ['5.1.1 odd'] }],
    ['451 4.3.0 try later\n', { code: 451, enhanced: '4.3.0', lines: ['try later'] }],
    ['220 mx.example ESMTP ready\r\n', { code: 220, enhanced: null, lines: ['mx.example ESMTP ready'] }],
    ['250 2.0.0.1 not a code\r\n', { code: 250, enhanced: null, lines: ['2.0.0.1 not a code'] }],
    ['554 5.6.7 Ünïcödé\r\n', { code: 554, enhanced: '5.6.7', lines: ['Ünïcödé'] }],
  ])('parses %j', (wire, expected) => {
    expect(parseAll(wire)).toEqual([expected]);
  });

  it('assembles a multi-line reply, keeping lines without a code whole', () => {
    const replies = parseAll('250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n');
    expect(replies).toEqual([{ code: 250, enhanced: null, lines: ['mx.example hello', 'PIPELINING', 'SIZE 1000', '8BITMIME'] }]);
    const coded = parseAll('550-5.7.1 first\r\n550-second\r\n550 5.7.1 third\r\n');
    expect(coded).toEqual([{ code: 550, enhanced: '5.7.1', lines: ['first', 'second', 'third'] }]);
  });

  it('emits several replies from one chunk (pipelined answers)', () => {
    const replies = parseAll('250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no\r\n354 go\r\n');
    expect(replies.map((r) => r.code)).toEqual([250, 250, 550, 354]);
  });

  it('gives the same result for every split point of the input', () => {
    const wire = Buffer.from('220-mx.example\r\n220 2.0.0 ready é\r\n250-a\r\n250 2.1.0 b\r\n421 4.4.2 bye\r\n', 'utf8');
    const whole = parseAll(wire);
    for (let i = 0; i <= wire.length; i += 1) {
      for (let j = i; j <= wire.length; j += 7) {
        const parser = new ReplyParser();
        const got = [...parser.push(wire.subarray(0, i)), ...parser.push(wire.subarray(i, j)), ...parser.push(wire.subarray(j))];
        expect(got).toEqual(whole);
      }
    }
  });

  it.each([
    ['abc hello\r\n'],
    ['25 short\r\n'],
    ['250x bad separator\r\n'],
    ['199 too low\r\n'],
    ['600 too high\r\n'],
    ['250-first\r\n251 changed code\r\n'],
  ])('rejects malformed %j', (wire) => {
    expect(() => parseAll(wire)).toThrow(ReplyProtocolError);
  });

  it('bounds line length, even before the line ends', () => {
    const parser = new ReplyParser({ maxLineLength: 100 });
    expect(() => parser.push(Buffer.from(`250 ${'x'.repeat(200)}`))).toThrow(/longer than 100/);
    const ok = new ReplyParser({ maxLineLength: 100 });
    expect(ok.push(Buffer.from(`250 ${'x'.repeat(96)}\r\n`))).toHaveLength(1);
    expect(() => new ReplyParser({ maxLineLength: 100 }).push(Buffer.from(`250 ${'x'.repeat(97)}\r\n`))).toThrow(ReplyProtocolError);
  });

  it('bounds the number of lines in one reply', () => {
    const parser = new ReplyParser({ maxLines: 3 });
    expect(() => parser.push(Buffer.from('250-a\r\n250-b\r\n250-c\r\n250-d\r\n'))).toThrow(/3 lines/);
  });

  it('reset drops buffered bytes and a half-read reply', () => {
    const parser = new ReplyParser();
    parser.push(Buffer.from('250-partial\r\n250 tai'));
    expect(parser.midReply).toBe(true);
    expect(parser.reset()).toBe(7);
    expect(parser.push(Buffer.from('220 fresh\r\n'))).toEqual([{ code: 220, enhanced: null, lines: ['fresh'] }]);
  });
});
