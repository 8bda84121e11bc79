import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { utf8AddrDecode, utf8AddrEncode, xtextDecode, xtextEncode } from './xtext.js';

/** Strings of whole code points (no lone surrogates). */
const wellFormed = fc.string({ unit: 'binary' }).filter((s) => !/\p{Cs}/u.test(s));

describe('xtext (RFC 3461 §4)', () => {
  const pairs: Array<[string, string]> = [
    ['', ''],
    ['abc', 'abc'],
    ['~!"#$%&<>', '~!"#$%&<>'],
    ['a+b', 'a+2Bb'],
    ['a=b', 'a+3Db'],
    ['a b', 'a+20b'],
    ['\r\n', '+0D+0A'],
    ['\x7f', '+7F'],
    ['é', '+C3+A9'],
    ['😀', '+F0+9F+98+80'],
    ['<>', '<>'],
  ];
  it.each(pairs)('encodes %j as %j and back', (text, encoded) => {
    expect(xtextEncode(text)).toBe(encoded);
    expect(xtextDecode(encoded)).toBe(text);
  });

  it('decodes needless escapes of xchars', () => {
    expect(xtextDecode('+41+42C')).toBe('ABC');
  });

  const malformed = ['a+2', 'a+2b', 'a+GG', '+', 'a=b', 'a b', 'a\tb', '\x7f', 'é', '+C3', '+C3+28', '+FF', '+ED+A0+80'];
  it.each(malformed)('refuses %j', (text) => {
    expect(xtextDecode(text)).toBeNull();
  });

  it('takes UTF-8 characters as themselves only when asked', () => {
    expect(xtextDecode('pelé+2B1', { unicode: true })).toBe('pelé+1');
    expect(xtextDecode('pelé+2B1')).toBeNull();
    expect(xtextDecode('\ud800', { unicode: true })).toBeNull();
    expect(xtextDecode('a b', { unicode: true })).toBeNull();
  });

  it('round-trips any text', () => {
    fc.assert(
      fc.property(wellFormed, (text) => {
        const encoded = xtextEncode(text);
        expect(encoded).toMatch(/^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/);
        expect(xtextDecode(encoded)).toBe(text);
      }),
    );
  });
});

describe('utf-8-addr-xtext and utf-8-addr-unitext (RFC 6533 §3)', () => {
  const pairs: Array<[string, string, string]> = [
    // text, xtext form, unitext form
    ['user@example.test', 'user@example.test', 'user@example.test'],
    ['pelé@x.test', String.raw`pel\x{E9}@x.test`, 'pelé@x.test'],
    ['用户@例子.测试', String.raw`\x{7528}\x{6237}@\x{4F8B}\x{5B50}.\x{6D4B}\x{8BD5}`, '用户@例子.测试'],
    ['😀@x.test', String.raw`\x{1F600}@x.test`, '😀@x.test'],
    ['\u{10FFFF}', String.raw`\x{10FFFF}`, '\u{10FFFF}'],
    ['\u0100', String.raw`\x{100}`, '\u0100'],
    ['a+b=c\\d e', String.raw`a\x{2B}b\x{3D}c\x{5C}d\x{20}e`, String.raw`a\x{2B}b\x{3D}c\x{5C}d\x{20}e`],
    ['\n\x1b\x7f', String.raw`\x{0A}\x{1B}\x{7F}`, String.raw`\x{0A}\x{1B}\x{7F}`],
  ];
  it.each(pairs)('%j ⇄ %j / %j', (text, xtext, unitext) => {
    expect(utf8AddrEncode(text)).toBe(xtext);
    expect(utf8AddrEncode(text, { unicode: true })).toBe(unitext);
    expect(utf8AddrDecode(xtext)).toBe(text);
    expect(utf8AddrDecode(unitext, { unicode: true })).toBe(text);
  });

  it('reads hex digits in either case', () => {
    expect(utf8AddrDecode(String.raw`pel\x{e9}`)).toBe('pelé');
    expect(utf8AddrDecode(String.raw`\x{1f600}`)).toBe('😀');
  });

  const malformed = [
    '',
    String.raw`\x{41}`, // "A" is a QCHAR: it has no escape
    String.raw`\x{00}`,
    String.raw`\x{0}`,
    String.raw`\x{E}`,
    String.raw`\x{0E9}`,
    String.raw`\x{00E9}`,
    String.raw`\x{D800}`,
    String.raw`\x{DFFF}`,
    String.raw`\x{110000}`,
    String.raw`\x{200000}`,
    String.raw`\x{1000000}`,
    String.raw`\x{E9`,
    String.raw`\xE9`,
    String.raw`\x{}`,
    String.raw`a\b`,
    'a+b',
    'a=b',
    'a b',
    'a\x01',
    'pelé',
  ];
  it.each(malformed)('refuses %j', (text) => {
    expect(utf8AddrDecode(text)).toBeNull();
  });

  it('takes UTF-8 characters as themselves only in the unitext form', () => {
    expect(utf8AddrDecode('pelé', { unicode: true })).toBe('pelé');
    expect(utf8AddrDecode('\ud800', { unicode: true })).toBeNull();
  });

  it('cannot encode NUL', () => {
    expect(() => utf8AddrEncode('a\0b')).toThrow(RangeError);
  });

  it('round-trips any text without NUL, in both forms', () => {
    const text = wellFormed.filter((s) => s !== '' && !s.includes('\0'));
    fc.assert(
      fc.property(text, (s) => {
        const xtext = utf8AddrEncode(s);
        expect(xtext).toMatch(/^[\x21-\x7e]+$/);
        expect(utf8AddrDecode(xtext)).toBe(s);
        expect(utf8AddrDecode(utf8AddrEncode(s, { unicode: true }), { unicode: true })).toBe(s);
      }),
    );
  });
});
