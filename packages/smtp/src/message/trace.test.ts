import { describe, it, expect } from 'vitest';
import { readHeaderFields } from './headers.js';
import { deliveredToField, hopCount, receivedField, returnPathField, withProtocols, type ReceivedInfo } from './trace.js';

const date = new Date('2026-11-25T09:02:05Z');
const base: ReceivedInfo = { from: { helo: 'mail.example.com', ip: '192.0.2.1' }, by: 'mx.example.org', with: 'ESMTP', date };

/** Every physical line of a field, and a check that the only line breaks are folds (CRLF + WSP) and the final CRLF. */
function lines(field: string): string[] {
  expect(field.endsWith('\r\n')).toBe(true);
  const body = field.slice(0, -2);
  expect(body).not.toMatch(/\r(?!\n[ \t])|(?<!\r)\n/);
  return body.split('\r\n');
}

/** The unfolded value of a single field. */
function unfolded(field: string): string {
  const fields = readHeaderFields(Buffer.from(field, 'utf8'));
  expect(fields).toHaveLength(1);
  // Unfolding keeps the TAB of each fold; read it as the space it stands for.
  return (fields[0]?.value ?? '').replace(/\t/g, ' ');
}

describe('receivedField', () => {
  it('writes the RFC 5321 §4.4 stamp, folded before 78 columns', () => {
    const field = receivedField({
      ...base,
      from: { helo: 'mail.example.com', ip: '192.0.2.1', rdns: 'mail.example.com' },
      with: 'ESMTPS',
      id: '4Xyz',
      for: 'user@example.org',
      tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
      date,
    });
    expect(field).toBe(
      'Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n' +
        '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384) by mx.example.org\r\n' +
        `\twith ESMTPS id 4Xyz for <user@example.org>; ${formatLocal(date)}\r\n`,
    );
  });

  it.each([
    { name: 'minimal', info: base, value: `from mail.example.com ([192.0.2.1]) by mx.example.org with ESMTP; ${formatLocal(date)}` },
    { name: 'rdns', info: { ...base, from: { ...base.from, rdns: 'r.example.net' } }, value: `from mail.example.com (r.example.net [192.0.2.1]) by mx.example.org with ESMTP; ${formatLocal(date)}` },
    { name: 'IPv6 peer', info: { ...base, from: { helo: '[IPv6:2001:db8::1]', ip: '2001:db8::1' } }, value: `from [IPv6:2001:db8::1] ([IPv6:2001:db8::1]) by mx.example.org with ESMTP; ${formatLocal(date)}` },
    { name: 'IPv4-mapped peer', info: { ...base, from: { helo: '[192.0.2.9]', ip: '::ffff:192.0.2.9' } }, value: `from [192.0.2.9] ([192.0.2.9]) by mx.example.org with ESMTP; ${formatLocal(date)}` },
    { name: 'IPv6 zone dropped', info: { ...base, from: { helo: 'h.example', ip: 'fe80::1%eth0' } }, value: `from h.example ([IPv6:fe80::1]) by mx.example.org with ESMTP; ${formatLocal(date)}` },
    { name: 'LMTP with msg-id id', info: { ...base, with: 'LMTP' as const, id: '<abc.def@mx.example.org>' }, value: `from mail.example.com ([192.0.2.1]) by mx.example.org with LMTP id <abc.def@mx.example.org>; ${formatLocal(date)}` },
    { name: 'for with brackets', info: { ...base, for: '<u@example.org>' }, value: `from mail.example.com ([192.0.2.1]) by mx.example.org with ESMTP for <u@example.org>; ${formatLocal(date)}` },
    { name: 'quoted local part', info: { ...base, for: '"john doe"@example.org' }, value: `from mail.example.com ([192.0.2.1]) by mx.example.org with ESMTP for <"john doe"@example.org>; ${formatLocal(date)}` },
    { name: 'UTF-8 recipient', info: { ...base, with: 'UTF8SMTP' as const, for: 'josé@exämple.org' }, value: `from mail.example.com ([192.0.2.1]) by mx.example.org with UTF8SMTP for <josé@exämple.org>; ${formatLocal(date)}` },
  ])('$name', ({ info, value }) => {
    const field = receivedField(info);
    for (const line of lines(field)) expect(line.length).toBeLessThanOrEqual(78);
    expect(unfolded(field)).toBe(value);
  });

  it.each([
    { name: 'CRLF and a forged field', helo: 'evil\r\nBcc: victim@example.org' },
    { name: 'bare LF', helo: 'evil\nX-Spam: no' },
    { name: 'bare CR', helo: 'evil\rX-Spam: no' },
    { name: 'NUL and DEL', helo: 'a\u0000b\u007fc' },
    { name: 'Unicode line separators', helo: 'a\u2028b\u2029c\u0085d' },
    { name: 'comment breakout', helo: 'x) by forged.example (' },
    { name: 'backslash at end', helo: 'x\\' },
    { name: 'spaces', helo: 'my laptop' },
    { name: 'non-ASCII', helo: 'ℌ𝔢𝔩𝔬.example' },
    { name: 'underscore', helo: 'my_pc' },
    { name: 'bad literal', helo: '[999.1.1.1]' },
    { name: 'semicolon', helo: 'a; Mon, 01 Jan 2001 00:00:00 +0000' },
    { name: 'very long', helo: `${'x'.repeat(5000)}\r\nX: y` },
  ])('keeps a hostile HELO name ($name) inside a comment', ({ helo }) => {
    const field = receivedField({ ...base, from: { helo, ip: '192.0.2.1', rdns: 'r.example.net' } });
    const folded = lines(field);
    for (const line of folded) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(998);
    // Printable ASCII only, and the comment's parentheses stay balanced.
    const value = unfolded(field);
    expect(value).toMatch(/^from \[192\.0\.2\.1\] \(r\.example\.net \[192\.0\.2\.1\] helo=/);
    expect(value).toMatch(/^[\t -~]*$/);
    const comment = /^from \[192\.0\.2\.1\] (\((?:[^()\\]|\\.)*\)) by mx\.example\.org with ESMTP; /.exec(value);
    expect(comment).not.toBeNull();
    expect(value.endsWith(formatLocal(date))).toBe(true);
  });

  it.each([
    { name: 'rdns with CRLF', info: { ...base, from: { ...base.from, rdns: 'a\r\nBcc: x' } } },
    { name: 'rdns with spaces', info: { ...base, from: { ...base.from, rdns: 'a b' } } },
    { name: 'for with CRLF', info: { ...base, for: 'a@b\r\nBcc: x' } },
    { name: 'for with angle brackets inside', info: { ...base, for: 'a>@b' } },
    { name: 'for too long', info: { ...base, for: `${'a'.repeat(600)}@example.org` } },
  ])('leaves out an unsafe optional value: $name', ({ info }) => {
    const field = receivedField(info);
    lines(field);
    expect(unfolded(field)).toBe(`from mail.example.com ([192.0.2.1]) by mx.example.org with ESMTP; ${formatLocal(date)}`);
  });

  it('reduces TLS names to their alphabet', () => {
    const field = receivedField({ ...base, tls: { protocol: 'TLSv1.3\r\nX: y', cipher: '(evil)' } });
    expect(unfolded(field)).toContain('(using TLSv1.3Xy with cipher evil)');
  });

  it.each([
    { name: 'by with a space', info: { ...base, by: 'mx example' } },
    { name: 'by with CRLF', info: { ...base, by: 'mx\r\nX: y' } },
    { name: 'unknown protocol', info: { ...base, with: 'HTTP' as unknown as 'SMTP' } },
    { name: 'id with a space', info: { ...base, id: 'a b' } },
    { name: 'id with CRLF', info: { ...base, id: 'a\r\nX: y' } },
    { name: 'not an IP', info: { ...base, from: { helo: 'h.example', ip: 'localhost' } } },
  ])('refuses a malformed value of our own: $name', ({ info }) => {
    expect(() => receivedField(info)).toThrow(TypeError);
  });

  it.each(withProtocols.map((protocol) => ({ protocol })))('records with $protocol', ({ protocol }) => {
    expect(unfolded(receivedField({ ...base, with: protocol }))).toContain(` with ${protocol};`);
  });

  it('folds a long stamp so that no line passes 78 and the date is intact', () => {
    const long = `${'a'.repeat(60)}.example.com`;
    const field = receivedField({ ...base, from: { helo: long, ip: '2001:db8:1234:5678:9abc:def0:1234:5678', rdns: long }, by: long, id: 'x'.repeat(40), for: `${'u'.repeat(50)}@example.org` });
    const folded = lines(field);
    expect(folded.length).toBeGreaterThan(4);
    for (const line of folded.slice(1)) expect(line.startsWith('\t')).toBe(true);
    for (const line of folded) {
      // A single clause longer than 78 stands alone on its line.
      if (line.length > 78) expect(line.trim()).not.toContain(' by ');
    }
    expect(Date.parse(unfolded(field).split(';').pop() ?? '')).toBe(date.getTime());
  });
});

describe('returnPathField', () => {
  it.each([
    { path: null, field: 'Return-Path: <>\r\n' },
    { path: '', field: 'Return-Path: <>\r\n' },
    { path: '<>', field: 'Return-Path: <>\r\n' },
    { path: 'a@example.org', field: 'Return-Path: <a@example.org>\r\n' },
    { path: '<a@example.org>', field: 'Return-Path: <a@example.org>\r\n' },
    { path: '"a b"@example.org', field: 'Return-Path: <"a b"@example.org>\r\n' },
  ])('$path', ({ path, field }) => {
    expect(returnPathField(path)).toBe(field);
  });

  it.each(['a@b\r\nBcc: x', 'a@b\n', 'a\u0000@b', `${'a'.repeat(990)}@b`])('refuses %j', (path) => {
    expect(() => returnPathField(path)).toThrow();
  });
});

describe('deliveredToField', () => {
  it.each([
    { address: 'user@example.org', field: 'Delivered-To: user@example.org\r\n' },
    { address: '<user+tag@example.org>', field: 'Delivered-To: user+tag@example.org\r\n' },
    { address: 'josé@exämple.org', field: 'Delivered-To: josé@exämple.org\r\n' },
  ])('$address', ({ address, field }) => {
    expect(deliveredToField(address)).toBe(field);
  });

  it.each(['', '<>', 'a@b\r\nBcc: x', 'a@b\r'])('refuses %j', (address) => {
    expect(() => deliveredToField(address)).toThrow();
  });
});

/** The date as receivedField writes it by default (local zone), computed independently of formatDate. */
function formatLocal(d: Date): string {
  const offset = -d.getTimezoneOffset();
  const wall = new Date(d.getTime() + offset * 60_000);
  const [day, rest] = wall.toUTCString().split(', ') as [string, string];
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  return `${day}, ${rest.replace(/ GMT$/, '')} ${zone}`;
}

describe('hopCount', () => {
  it.each([
    ['no header', 'just a body\r\n', 0],
    ['one Received, folded', 'Received: from a\r\n by b; Wed, 25 Nov 2026 10:00:00 +0000\r\nSubject: x\r\n\r\nbody\r\n', 1],
    ['any case, X-Received and Received-SPF not counted', 'RECEIVED: x\r\nreceived: y\r\nX-Received: z\r\nReceived-SPF: pass\r\n\r\n', 2],
    ['Received in the body not counted', 'Received: x\r\n\r\nReceived: in the body\r\n', 1],
  ])('%s', (_name, message, count) => {
    expect(hopCount(Buffer.from(message))).toBe(count);
  });
});
