import { describe, it, expect } from 'vitest';
import { normalizeAddress, normalizeDomain, normalizeSendAs, splitSubaddress } from './address.js';
import { DirectoryError } from './errors.js';

describe('normalizeAddress', () => {
  it.each([
    ['alice@example.org', 'alice@example.org'],
    ['  Alice@Example.ORG\t', 'alice@example.org'],
    ['Alice+Tag@EXAMPLE.org', 'alice+tag@example.org'],
    ['jörg@Bücher.Example', 'jörg@xn--bcher-kva.example'],
    ['"a@b"@example.org', '"a@b"@example.org'],
    ['x@127.example', 'x@127.example'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeAddress(input)).toBe(expected);
  });

  it.each(['', 'alice', '@example.org', 'alice@', 'alice@example..org', 'alice@-example.org', 'alice@exa_mple.org', 'al\nice@example.org', 'alice@[192.0.2.1]'])(
    'rejects %j',
    (input) => {
      expect(() => normalizeAddress(input)).toThrow(DirectoryError);
    },
  );
});

describe('normalizeDomain and normalizeSendAs', () => {
  it('lowercases and converts U-labels to A-labels, label by label', () => {
    expect(normalizeDomain('MÜNCHEN.de')).toBe('xn--mnchen-3ya.de');
    expect(normalizeDomain('127.1')).toBe('127.1'); // not read as an IPv4 address
    expect(() => normalizeDomain(`${'a'.repeat(64)}.org`)).toThrow(DirectoryError);
  });

  it('keeps @domain wildcards', () => {
    expect(normalizeSendAs('@Example.ORG')).toBe('@example.org');
    expect(normalizeSendAs('Sales@Example.ORG')).toBe('sales@example.org');
    expect(() => normalizeSendAs('@')).toThrow(DirectoryError);
  });
});

describe('splitSubaddress', () => {
  it.each([
    ['user+tag@x.org', '+', { base: 'user@x.org', tag: 'tag' }],
    ['user+a+b@x.org', '+', { base: 'user@x.org', tag: 'a+b' }],
    ['user+@x.org', '+', { base: 'user@x.org', tag: '' }],
    ['user-tag@x.org', '-', { base: 'user@x.org', tag: 'tag' }],
    ['+tag@x.org', '+', null],
    ['user@x.org', '+', null],
  ])('%j with %j', (address, separator, expected) => {
    expect(splitSubaddress(address, separator)).toEqual(expected);
  });
});
