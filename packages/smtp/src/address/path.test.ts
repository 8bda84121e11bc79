import { describe, it, expect } from 'vitest';
import {
  type Address,
  addressKey,
  asciiDomain,
  formatAddress,
  formatPath,
  parseForwardPath,
  parseReversePath,
  splitPathAndParams,
} from './path.js';
import type { Parsed } from './result.js';

const ascii = { smtputf8: false };
const utf8 = { smtputf8: true };

/** A mailbox with the defaults of a plain `local@domain`. */
function mailbox(local: string, domain: string, extra: Partial<Address> = {}): Address {
  return { local, localValue: local, domain, literal: null, route: [], utf8: false, ...extra };
}

/** The parsed value, failing the test when parsing failed. */
function valueOf(result: Parsed<Address | null>): Address | null {
  if (!result.ok) throw new Error(`expected success, got ${result.reply.code} ${result.reply.enhanced}`);
  return result.value;
}

/** A domain name of exactly `n` octets, in labels of at most 63. */
function domainOf(n: number): string {
  const labels: string[] = [];
  let left = n;
  while (left > 0) {
    let k = Math.min(63, left);
    if (left - k === 1) k -= 1; // never leave room for only a dot
    labels.push('d'.repeat(k));
    left -= k + 1;
  }
  const domain = labels.join('.');
  if (domain.length !== n) throw new Error(`domainOf(${n}) built ${domain.length}`);
  return domain;
}

describe('splitPathAndParams', () => {
  const cases: Array<[string, string, string]> = [
    ['<a@b.test>', '<a@b.test>', ''],
    ['<a@b.test> SIZE=10 BODY=8BITMIME', '<a@b.test>', 'SIZE=10 BODY=8BITMIME'],
    [' <a@b.test> SIZE=10', '<a@b.test>', 'SIZE=10'],
    ['\t<a@b.test>', '<a@b.test>', ''],
    ['  <a@b.test>   SIZE=1  ', '<a@b.test>', 'SIZE=1  '],
    ['<"a> b"@x.test> SIZE=1', '<"a> b"@x.test>', 'SIZE=1'],
    [String.raw`<"a\"> b"@x.test> X`, String.raw`<"a\"> b"@x.test>`, 'X'],
    ['<a@[x:y>z]> P=1', '<a@[x:y>z]>', 'P=1'],
    ['<> SIZE=1', '<>', 'SIZE=1'],
    ['<>', '<>', ''],
    ['<a@b.test>SIZE=1', '<a@b.test>SIZE=1', ''],
    ['<a@b.test>x SIZE=1', '<a@b.test>x', 'SIZE=1'],
    ['a@b.test SIZE=1', 'a@b.test', 'SIZE=1'],
    ['<a@b.test', '<a@b.test', ''],
    ['<"a b@x.test> SIZE=1', '<"a b@x.test> SIZE=1', ''],
    ['', '', ''],
  ];
  it.each(cases)('%j → path %j, params %j', (arg, path, params) => {
    expect(splitPathAndParams(arg)).toEqual({ path, params });
  });
});

describe('parseForwardPath: valid paths', () => {
  const cases: Array<[string, Address]> = [
    ['<user@example.test>', mailbox('user', 'example.test')],
    ['<User.Name+Tag@Example.TEST>', mailbox('User.Name+Tag', 'Example.TEST')],
    ['<user@localhost>', mailbox('user', 'localhost')],
    ['<1@2.3.4.5>', mailbox('1', '2.3.4.5')],
    ['<a@b-c.d1.test>', mailbox('a', 'b-c.d1.test')],
    ["<!#$%&'*+-/=?^_`{|}~@example.test>", mailbox("!#$%&'*+-/=?^_`{|}~", 'example.test')],
    ['<user@xn--bcher-kva.test>', mailbox('user', 'xn--bcher-kva.test')],
    // Relay tricks parse faithfully; policy is decided elsewhere.
    ['<user%other.com@local.test>', mailbox('user%other.com', 'local.test')],
    ['<other!user@local.test>', mailbox('other!user', 'local.test')],
    ['<"user@other.com"@local.test>', mailbox('"user@other.com"', 'local.test', { localValue: 'user@other.com' })],
    ['<@hop1,@hop2:user@dest.test>', mailbox('user', 'dest.test', { route: ['hop1', 'hop2'] })],
    ['<@hop1.test:user@dest.test>', mailbox('user', 'dest.test', { route: ['hop1.test'] })],
    // Quoted strings and quoted pairs.
    [String.raw`<"a b\"c\\d"@example.test>`, mailbox(String.raw`"a b\"c\\d"`, 'example.test', { localValue: String.raw`a b"c\d` })],
    ['<"a>b"@example.test>', mailbox('"a>b"', 'example.test', { localValue: 'a>b' })],
    [String.raw`<"\a"@example.test>`, mailbox(String.raw`"\a"`, 'example.test', { localValue: 'a' })],
    ['<""@example.test>', mailbox('""', 'example.test', { localValue: '' })],
    ['<"a..b."@example.test>', mailbox('"a..b."', 'example.test', { localValue: 'a..b.' })],
    // Address literals.
    ['<user@[127.0.0.1]>', mailbox('user', '[127.0.0.1]', { literal: { kind: 'ipv4', value: '127.0.0.1' } })],
    ['<user@[010.0.0.255]>', mailbox('user', '[010.0.0.255]', { literal: { kind: 'ipv4', value: '010.0.0.255' } })],
    ['<user@[IPv6:2001:db8::1]>', mailbox('user', '[IPv6:2001:db8::1]', { literal: { kind: 'ipv6', value: '2001:db8::1' } })],
    ['<user@[ipv6:::1]>', mailbox('user', '[ipv6:::1]', { literal: { kind: 'ipv6', value: '::1' } })],
    ['<user@[IPv6:::]>', mailbox('user', '[IPv6:::]', { literal: { kind: 'ipv6', value: '::' } })],
    ['<user@[IPv6:1:2:3:4:5:6:7:8]>', mailbox('user', '[IPv6:1:2:3:4:5:6:7:8]', { literal: { kind: 'ipv6', value: '1:2:3:4:5:6:7:8' } })],
    ['<user@[IPv6:1:2:3:4:5:6::]>', mailbox('user', '[IPv6:1:2:3:4:5:6::]', { literal: { kind: 'ipv6', value: '1:2:3:4:5:6::' } })],
    ['<user@[IPv6:::ffff:192.0.2.1]>', mailbox('user', '[IPv6:::ffff:192.0.2.1]', { literal: { kind: 'ipv6', value: '::ffff:192.0.2.1' } })],
    ['<user@[IPv6:1:2:3:4:5:6:192.0.2.1]>', mailbox('user', '[IPv6:1:2:3:4:5:6:192.0.2.1]', { literal: { kind: 'ipv6', value: '1:2:3:4:5:6:192.0.2.1' } })],
    ['<user@[IPv6:1:2:3:4::192.0.2.1]>', mailbox('user', '[IPv6:1:2:3:4::192.0.2.1]', { literal: { kind: 'ipv6', value: '1:2:3:4::192.0.2.1' } })],
    ['<user@[x-mailway:opaque>1]>', mailbox('user', '[x-mailway:opaque>1]', { literal: { kind: 'general', value: 'x-mailway:opaque>1' } })],
    // The bare postmaster of RFC 5321 §4.1.1.3, any case.
    ['<Postmaster>', mailbox('Postmaster', '')],
    ['<POSTMASTER>', mailbox('Postmaster', '')],
    ['<postmaster>', mailbox('Postmaster', '')],
    ['<postmaster@example.test>', mailbox('postmaster', 'example.test')],
  ];
  it.each(cases)('%s', (text, expected) => {
    expect(parseForwardPath(text, ascii)).toEqual({ ok: true, value: expected });
  });
});

describe('parseReversePath: valid paths', () => {
  it('accepts the null reverse-path', () => {
    expect(parseReversePath('<>', ascii)).toEqual({ ok: true, value: null });
  });
  it('parses a mailbox like a forward path', () => {
    expect(parseReversePath('<user%other.com@Local.Test>', ascii)).toEqual({ ok: true, value: mailbox('user%other.com', 'Local.Test') });
  });
  it('parses a source route', () => {
    expect(parseReversePath('<@a.test,@b.test:u@c.test>', ascii)).toEqual({ ok: true, value: mailbox('u', 'c.test', { route: ['a.test', 'b.test'] }) });
  });
});

describe('grammar violations', () => {
  const bad = [
    '<user@local.test.>',
    '<user@.local.test>',
    '<user@local..test>',
    '<user@-local.test>',
    '<user@local-.test>',
    '<user@loc_al.test>',
    '<user@loc al.test>',
    `<user@${'a'.repeat(64)}.test>`,
    '<.user@example.test>',
    '<user.@example.test>',
    '<us..er@example.test>',
    '<us(er@example.test>',
    '<us,er@example.test>',
    '<user name@example.test>',
    '<user>',
    '<user@>',
    '<@example.test>',
    '<@>',
    '<user@example.test@other.test>',
    '<"unterminated@example.test>',
    '<"a"b@example.test>',
    '<"a"@>',
    '<user@example.test',
    '<user@example.test>SIZE=1',
    '<<user@example.test>>',
    '<us\x01er@example.test>',
    '<user@exa\x7fmple.test>',
    '<"a\tb"@example.test>',
    '<"a\\\x01"@example.test>',
    '<user@example.test\r\n>',
    // Address literals.
    '<user@[256.0.0.1]>',
    '<user@[1.2.3]>',
    '<user@[1.2.3.4.5]>',
    '<user@[1234.0.0.1]>',
    '<user@[127.0.0.1]x>',
    '<user@127.0.0.1]>',
    '<user@[127.0.0.1>',
    '<user@[IPv6:1:2:3:4:5:6:7::]>',
    '<user@[IPv6:1:2:3:4:5:6:7]>',
    '<user@[IPv6:1:2:3:4:5:6:7:8:9]>',
    '<user@[IPv6::::1]>',
    '<user@[IPv6:1::2::3]>',
    '<user@[IPv6:fe80::1%eth0]>',
    '<user@[IPv6:12345::1]>',
    '<user@[IPv6:1.2.3.4::]>',
    '<user@[IPv6:1:2:3:4:5:6:7:1.2.3.4]>',
    '<user@[IPv6:1:2:3:4:5::1.2.3.4]>',
    '<user@[IPv6:::256.0.0.1]>',
    '<user@[IPv6:2001:db8::g]>',
    '<user@[IPv6:127.0.0.1]>',
    '<user@[tag-:x]>',
    '<user@[tag:a\\b]>',
    '<user@[tag:]>',
    '<user@[:x]>',
    '<user@[]>',
    // Source routes.
    '<@hop1,hop2:user@dest.test>',
    '<@hop1:>',
    '<@hop1.:user@dest.test>',
    '<@[1.2.3.4]:user@dest.test>',
    '<@hop1,:user@dest.test>',
    '<@hop1 user@dest.test>',
  ];
  it.each(bad)('RCPT %j → 501 5.1.3', (text) => {
    expect(parseForwardPath(text, utf8)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.1.3', lines: ['Bad recipient address syntax'] },
    });
  });
  it.each(bad)('MAIL %j → 501 5.1.7', (text) => {
    expect(parseReversePath(text, utf8)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.1.7', lines: ['Bad sender address syntax'] },
    });
  });

  const rcptOnly = ['<>', '<@hop.test:Postmaster>', '< Postmaster>'];
  it.each(rcptOnly)('RCPT %j → 501 5.1.3', (text) => {
    expect(parseForwardPath(text, ascii)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.1.3', lines: ['Bad recipient address syntax'] },
    });
  });
  it('MAIL does not take a bare <Postmaster>', () => {
    expect(parseReversePath('<Postmaster>', ascii)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.1.7', lines: ['Bad sender address syntax'] },
    });
  });
});

describe('missing angle brackets', () => {
  const unbracketed = ['user@example.test', '', 'user@example.test>', ' <user@example.test>'];
  it.each(unbracketed)('MAIL %j → 501 5.5.4', (text) => {
    expect(parseReversePath(text, ascii)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.5.4', lines: ['Syntax: MAIL FROM:<address>'] },
    });
  });
  it.each(unbracketed)('RCPT %j → 501 5.5.4', (text) => {
    expect(parseForwardPath(text, ascii)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.5.4', lines: ['Syntax: RCPT TO:<address>'] },
    });
  });
});

describe('SMTPUTF8', () => {
  const international: Array<[string, Address]> = [
    ['<pelé@example.test>', mailbox('pelé', 'example.test', { utf8: true })],
    ['<user@bücher.test>', mailbox('user', 'bücher.test', { utf8: true })],
    ['<用户@例子.测试>', mailbox('用户', '例子.测试', { utf8: true })],
    ['<"pelé x"@example.test>', mailbox('"pelé x"', 'example.test', { localValue: 'pelé x', utf8: true })],
    ['<@bücher.test:user@example.test>', mailbox('user', 'example.test', { route: ['bücher.test'], utf8: true })],
    ['<😀@example.test>', mailbox('😀', 'example.test', { utf8: true })],
  ];
  it.each(international)('accepts %s in an SMTPUTF8 transaction', (text, expected) => {
    expect(parseForwardPath(text, utf8)).toEqual({ ok: true, value: expected });
    expect(parseReversePath(text, utf8)).toEqual({ ok: true, value: expected });
  });
  it.each(international)('RCPT %s without SMTPUTF8 → 553 5.6.7', (text) => {
    expect(parseForwardPath(text, ascii)).toEqual({
      ok: false,
      reply: { code: 553, enhanced: '5.6.7', lines: ['Non-ASCII recipient address requires SMTPUTF8'] },
    });
  });
  it.each(international)('MAIL %s without SMTPUTF8 → 553 5.6.7', (text) => {
    expect(parseReversePath(text, ascii)).toEqual({
      ok: false,
      reply: { code: 553, enhanced: '5.6.7', lines: ['Non-ASCII sender address requires SMTPUTF8'] },
    });
  });

  const invalid = [
    '<user@bu\u0308cher.test>', // not NFC
    '<user@-ü.test>',
    '<user@ü-.test>',
    `<user@${'ü'.repeat(60)}.test>`, // A-label over 63 octets
    '<user@ü_x.test>',
    '<"a\\é"@example.test>', // quoted-pair is ASCII only
    '<\ud800@example.test>', // broken UTF-16
    '<user@ex\u3002ample.test>', // ideographic full stop is not a label separator here
  ];
  it.each(invalid)('%j is a syntax error even with SMTPUTF8', (text) => {
    expect(parseForwardPath(text, utf8)).toEqual({
      ok: false,
      reply: { code: 501, enhanced: '5.1.3', lines: ['Bad recipient address syntax'] },
    });
  });
});

describe('length limits (RFC 5321 §4.5.3.1, octets)', () => {
  const rcptTooLong = (what: string) => ({ ok: false, reply: { code: 501, enhanced: '5.1.3', lines: [what] } });
  const mailTooLong = (what: string) => ({ ok: false, reply: { code: 501, enhanced: '5.1.7', lines: [what] } });

  it('local part: 64 octets pass, 65 fail', () => {
    expect(valueOf(parseForwardPath(`<${'l'.repeat(64)}@x.test>`, ascii))?.local).toBe('l'.repeat(64));
    expect(parseForwardPath(`<${'l'.repeat(65)}@x.test>`, ascii)).toEqual(rcptTooLong('Recipient local part too long'));
    expect(parseReversePath(`<${'l'.repeat(65)}@x.test>`, ascii)).toEqual(mailTooLong('Sender local part too long'));
  });

  it('local part counts the quotes as written', () => {
    expect(valueOf(parseForwardPath(`<"${'q'.repeat(62)}"@x.test>`, ascii))?.localValue).toBe('q'.repeat(62));
    expect(parseForwardPath(`<"${'q'.repeat(63)}"@x.test>`, ascii)).toEqual(rcptTooLong('Recipient local part too long'));
  });

  it('local part counts UTF-8 octets, not characters', () => {
    expect(valueOf(parseForwardPath(`<${'é'.repeat(32)}@x.test>`, utf8))?.local).toBe('é'.repeat(32));
    expect(parseForwardPath(`<${'é'.repeat(32)}a@x.test>`, utf8)).toEqual(rcptTooLong('Recipient local part too long'));
  });

  it('domain: over 255 octets fails as a domain', () => {
    expect(parseForwardPath(`<a@${domainOf(256)}>`, ascii)).toEqual(rcptTooLong('Recipient domain too long'));
    expect(parseReversePath(`<a@${domainOf(256)}>`, ascii)).toEqual(mailTooLong('Sender domain too long'));
  });

  it('domain: 255 octets pass the domain limit but not the path limit', () => {
    expect(parseForwardPath(`<a@${domainOf(255)}>`, ascii)).toEqual(rcptTooLong('Path too long'));
  });

  it('path: 256 octets pass, 257 fail (brackets included)', () => {
    const at256 = `<a@${domainOf(252)}>`;
    const at257 = `<a@${domainOf(253)}>`;
    expect(at256.length).toBe(256);
    expect(valueOf(parseForwardPath(at256, ascii))?.domain).toBe(domainOf(252));
    expect(parseForwardPath(at257, ascii)).toEqual(rcptTooLong('Path too long'));
    expect(parseReversePath(at257, ascii)).toEqual(mailTooLong('Path too long'));
  });

  it('path counts UTF-8 octets', () => {
    const local = 'é'.repeat(30); // 60 octets, 30 characters
    const at256 = `<${local}@${domainOf(193)}>`;
    const at257 = `<${local}@${domainOf(194)}>`;
    expect(Buffer.byteLength(at256)).toBe(256);
    expect(at257.length).toBeLessThan(256);
    expect(valueOf(parseForwardPath(at256, utf8))?.local).toBe(local);
    expect(parseForwardPath(at257, utf8)).toEqual(rcptTooLong('Path too long'));
  });

  it('path counts the source route', () => {
    const route = `@${domainOf(200)}:`;
    expect(parseForwardPath(`<${route}user@${domainOf(50)}>`, ascii)).toEqual(rcptTooLong('Path too long'));
    expect(valueOf(parseForwardPath(`<${route}user@${domainOf(40)}>`, ascii))?.route).toEqual([domainOf(200)]);
  });

  it('a label of 63 octets passes, 64 fails', () => {
    expect(valueOf(parseForwardPath(`<a@${'b'.repeat(63)}.test>`, ascii))?.domain).toBe(`${'b'.repeat(63)}.test`);
    expect(parseForwardPath(`<a@${'b'.repeat(64)}.test>`, ascii)).toEqual(rcptTooLong('Bad recipient address syntax'));
  });
});

describe('formatAddress and formatPath', () => {
  const cases: Array<[string, string]> = [
    ['<user@example.test>', 'user@example.test'],
    ['<User@Example.TEST>', 'User@Example.TEST'],
    ['<"user"@example.test>', 'user@example.test'],
    [String.raw`<"\u\s\e\r"@example.test>`, 'user@example.test'],
    ['<"first.last"@example.test>', 'first.last@example.test'],
    ['<"user@other.com"@local.test>', '"user@other.com"@local.test'],
    [String.raw`<"a b\"c\\d"@x.test>`, String.raw`"a b\"c\\d"@x.test`],
    ['<"a..b"@x.test>', '"a..b"@x.test'],
    ['<".a"@x.test>', '".a"@x.test'],
    ['<""@x.test>', '""@x.test'],
    ['<@hop1,@hop2:user@dest.test>', 'user@dest.test'],
    ['<user@[IPv6:2001:DB8::1]>', 'user@[IPv6:2001:DB8::1]'],
    ['<pelé@bücher.test>', 'pelé@bücher.test'],
    ['<Postmaster>', 'Postmaster'],
  ];
  it.each(cases)('%s → %s', (text, wire) => {
    const addr = valueOf(parseForwardPath(text, utf8));
    if (!addr) throw new Error('expected an address');
    expect(formatAddress(addr)).toBe(wire);
    expect(formatPath(addr)).toBe(`<${wire}>`);
    // The canonical form reads back as the same mailbox.
    const again = valueOf(parseForwardPath(`<${wire}>`, utf8));
    expect(again?.localValue).toBe(addr.localValue);
    expect(again?.domain).toBe(addr.domain);
  });
  it('formats the null reverse-path', () => {
    expect(formatPath(null)).toBe('<>');
  });
});

describe('asciiDomain', () => {
  const cases: Array<[string, string]> = [
    ['Example.TEST', 'example.test'],
    ['bücher.test', 'xn--bcher-kva.test'],
    ['BÜCHER.Test', 'xn--bcher-kva.test'],
    ['XN--BCHER-KVA.test', 'xn--bcher-kva.test'],
    ['例子.测试', 'xn--fsqu00a.xn--0zwm56d'],
    ['127.1', '127.1'],
    ['0x7f.1', '0x7f.1'],
    ['[IPv6:2001:DB8::1]', '[IPv6:2001:DB8::1]'],
    ['[127.0.0.1]', '[127.0.0.1]'],
    ['', ''],
  ];
  it.each(cases)('%s → %s', (domain, expected) => {
    expect(asciiDomain(domain)).toBe(expected);
  });
});

describe('addressKey', () => {
  const key = (text: string) => {
    const addr = valueOf(parseForwardPath(text, utf8));
    if (!addr) throw new Error('expected an address');
    return addressKey(addr);
  };
  const cases: Array<[string, string]> = [
    ['<User@Example.TEST>', 'User@example.test'],
    ['<"User"@EXAMPLE.test>', 'User@example.test'],
    ['<@hop.test:User@example.test>', 'User@example.test'],
    ['<"a b"@x.test>', '"a b"@x.test'],
    ['<pelé@bücher.test>', 'pelé@xn--bcher-kva.test'],
    ['<user@[IPv6:2001:DB8::1]>', 'user@[IPv6:2001:DB8::1]'],
    ['<POSTMASTER>', 'Postmaster'],
  ];
  it.each(cases)('%s → %s', (text, expected) => {
    expect(key(text)).toBe(expected);
  });
  it('keeps local parts case-sensitive', () => {
    expect(key('<user@example.test>')).not.toBe(key('<User@example.test>'));
  });
  it('treats a needlessly quoted local part and a U-label domain as the same mailbox', () => {
    expect(key('<"pelé"@BÜCHER.test>')).toBe(key('<pelé@xn--bcher-kva.TEST>'));
  });
});
