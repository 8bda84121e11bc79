import { describe, expect, it } from 'vitest';
import { mailboxesOf } from './address-list.js';

describe('mailboxesOf', () => {
  it.each([
    ['alice@example.org', ['alice@example.org']],
    ['Alice <alice@example.org>', ['alice@example.org']],
    ['"Smith, Alice" <alice@example.org>', ['alice@example.org']],
    ['=?utf-8?q?Al=C3=AFce?= <alice@example.org>', ['alice@example.org']],
    ['alice@example.org (Alice (the first))', ['alice@example.org']],
    ['(comment) Alice <alice@example.org> (trailing)', ['alice@example.org']],
    ['a@example.org, B <b@example.org>', ['a@example.org', 'b@example.org']],
    ['Team: a@example.org, <b@example.org>;', ['a@example.org', 'b@example.org']],
    ['undisclosed-recipients:;', []],
    ['"quoted local"@example.org', ['"quoted local"@example.org']],
    ['<@relay.example:alice@example.org>', ['alice@example.org']],
    ['alice@[192.0.2.1]', ['alice@[192.0.2.1]']],
    ['Ålice <ålice@exämple.org>', ['ålice@exämple.org']],
  ])('%s', (value, expected) => {
    expect(mailboxesOf(value)).toEqual(expected);
  });

  it.each([
    ['<alice@example.org'],
    ['Alice <alice>'],
    ['alice'],
    ['"unterminated <alice@example.org>'],
    ['(unclosed comment alice@example.org'],
    ['<a@example.org> junk'],
    ['a@example.org b@example.org'],
    ['Alice <a@example.org <b@example.org>>'],
  ])('refuses %s', (value) => {
    expect(mailboxesOf(value)).toBeNull();
  });
});
