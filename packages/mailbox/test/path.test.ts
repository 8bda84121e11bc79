import { describe, expect, it } from 'vitest';
import { mailboxPath } from '../src/index.js';

describe('mailboxPath', () => {
  it.each([
    ['bob@Example.ORG', 'maildir', '/var/mail/example.org/bob/Maildir'],
    ['bob@example.org', 'mbox', '/var/mail/example.org/bob/mbox'],
    ['first.last+tag@example.org', 'maildir', '/var/mail/example.org/first.last+tag/Maildir'],
    ['../../etc@example.org', 'maildir', '/var/mail/example.org/%2E.%2F..%2Fetc/Maildir'],
    ['..@example.org', 'maildir', '/var/mail/example.org/%2E./Maildir'],
    ['a/b\0c d%@example.org', 'maildir', '/var/mail/example.org/a%2Fb%00c%20d%25/Maildir'],
    ['"quoted\\\\x"@example.org', 'maildir', '/var/mail/example.org/"quoted%5C%5Cx"/Maildir'],
    ['jörg@example.org', 'maildir', '/var/mail/example.org/j%C3%B6rg/Maildir'],
  ] as const)('%s → %s', (address, format, expected) => {
    expect(mailboxPath('/var/mail', address, format)).toBe(expected);
  });

  it.each(['bob', '@example.org', 'bob@', 'bob@../x', 'bob@exa/mple.org', 'bob@.example.org', 'bob@example..org', 'bob@exa\0mple.org'])('refuses %j', (address) => {
    expect(() => mailboxPath('/var/mail', address, 'maildir')).toThrow(TypeError);
  });
});
