/**
 * MTA-STS text rules, one test per rule of RFC 8461 §3.1 (the TXT record), §3.2 (the policy
 * file) and §4.1 (MX patterns).
 */
import { describe, expect, it } from 'vitest';
import { mxMatches, parsePolicy, parseStsRecord, policyAllows } from './mta-sts-policy.js';

const record = (...texts: string[]) => parseStsRecord(texts.map((text) => [text]));
const policy = (...lines: string[]) => parsePolicy(lines.join('\r\n'));
const good = ['version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'max_age: 86400'];

describe('the _mta-sts TXT record (RFC 8461 §3.1)', () => {
  it('gives the id of a v=STSv1 record', () => {
    expect(record('v=STSv1; id=20160831085700Z;')).toEqual({ ok: true, value: { id: '20160831085700Z' } });
  });

  it('joins a record split into several character-strings before reading it', () => {
    expect(parseStsRecord([['v=STSv1; id=2016', '0831085700Z']])).toEqual({ ok: true, value: { id: '20160831085700Z' } });
  });

  it('ignores records that do not start with v=STSv1; (another protocol’s TXT at the same name)', () => {
    expect(record('some-verification=abc', 'v=STSv1; id=abc123')).toEqual({ ok: true, value: { id: 'abc123' } });
  });

  it('is no policy when more than one v=STSv1 record is published', () => {
    expect(record('v=STSv1; id=one', 'v=STSv1; id=two')).toMatchObject({ ok: false, error: expect.stringContaining('2 v=STSv1 records') });
  });

  it('is no policy without any v=STSv1 record, nor with v=STSv1 not first', () => {
    expect(record()).toMatchObject({ ok: false });
    expect(record('id=abc; v=STSv1;')).toMatchObject({ ok: false });
  });

  it('needs an id of 1 to 32 letters and digits', () => {
    expect(record('v=STSv1;')).toMatchObject({ ok: false, error: 'no id field' });
    expect(record('v=STSv1; id=a-b')).toMatchObject({ ok: false });
    expect(record(`v=STSv1; id=${'a'.repeat(33)}`)).toMatchObject({ ok: false });
    expect(record(`v=STSv1; id=${'a'.repeat(32)}`)).toMatchObject({ ok: true });
  });

  it('accepts extension fields and white space around the delimiters', () => {
    expect(record('v=STSv1 ;  ext_1=value ; id=x1 ;')).toEqual({ ok: true, value: { id: 'x1' } });
  });

  it('refuses a field that is not name=value', () => {
    expect(record('v=STSv1; id=x1; junk')).toMatchObject({ ok: false });
  });
});

describe('the policy file (RFC 8461 §3.2)', () => {
  it('reads version, mode, mx and max_age', () => {
    expect(policy(...good)).toEqual({ ok: true, value: { mode: 'enforce', mx: ['mail.example.com'], maxAge: 86400 } });
  });

  it('takes LF as well as CRLF line endings, with or without a final one', () => {
    expect(parsePolicy(`${good.join('\n')}\n`)).toMatchObject({ ok: true });
    expect(parsePolicy(good.join('\r\n'))).toMatchObject({ ok: true });
  });

  it('needs version STSv1', () => {
    expect(policy(...good.slice(1))).toMatchObject({ ok: false, error: 'no version field' });
    expect(policy('version: STSv2', ...good.slice(1))).toMatchObject({ ok: false });
  });

  it('knows the modes enforce, testing and none, and nothing else', () => {
    for (const mode of ['enforce', 'testing', 'none']) expect(policy('version: STSv1', `mode: ${mode}`, 'mx: mail.example.com', 'max_age: 1')).toMatchObject({ ok: true, value: { mode } });
    expect(policy('version: STSv1', 'mode: Enforce', 'mx: mail.example.com', 'max_age: 1')).toMatchObject({ ok: false });
    expect(policy('version: STSv1', 'mx: mail.example.com', 'max_age: 1')).toMatchObject({ ok: false, error: 'no mode field' });
  });

  it('needs a max_age of 1 to 10 digits, at most 31557600', () => {
    expect(policy('version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'max_age: 31557600')).toMatchObject({ ok: true });
    expect(policy('version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'max_age: 31557601')).toMatchObject({ ok: false });
    expect(policy('version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'max_age: -1')).toMatchObject({ ok: false });
    expect(policy('version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'max_age: 12345678901')).toMatchObject({ ok: false });
    expect(policy('version: STSv1', 'mode: enforce', 'mx: mail.example.com')).toMatchObject({ ok: false, error: 'no max_age field' });
  });

  it('keeps every mx line, lower-cased, without a trailing dot', () => {
    expect(policy('version: STSv1', 'mode: testing', 'mx: MAIL.example.com.', 'mx: *.example.net', 'max_age: 60')).toMatchObject({ ok: true, value: { mx: ['mail.example.com', '*.example.net'] } });
  });

  it('needs at least one mx unless the mode is none', () => {
    expect(policy('version: STSv1', 'mode: enforce', 'max_age: 60')).toMatchObject({ ok: false, error: 'no mx field' });
    expect(policy('version: STSv1', 'mode: none', 'max_age: 60')).toMatchObject({ ok: true, value: { mx: [] } });
  });

  it('refuses an mx pattern with a wildcard other than a whole leftmost label', () => {
    for (const bad of ['mail*.example.com', 'mail.*.example.com', '*', '*.', 'exa mple.com']) expect(policy('version: STSv1', 'mode: enforce', `mx: ${bad}`, 'max_age: 60')).toMatchObject({ ok: false });
  });

  it('uses the first of a repeated field, and ignores unknown ones', () => {
    expect(policy(...good, 'mode: none', 'max_age: 5', 'reporting: whatever')).toMatchObject({ ok: true, value: { mode: 'enforce', maxAge: 86400 } });
  });

  it('refuses a line that is not key: value', () => {
    expect(policy(...good, 'this is not a field')).toMatchObject({ ok: false });
  });
});

describe('MX patterns (RFC 8461 §4.1)', () => {
  it('matches a name exactly, ignoring case and a trailing dot', () => {
    expect(mxMatches('mail.example.com', 'MAIL.Example.com.')).toBe(true);
    expect(mxMatches('mail.example.com', 'mail2.example.com')).toBe(false);
  });

  it('lets *. stand for exactly one leftmost label', () => {
    expect(mxMatches('*.example.net', 'mx1.example.net')).toBe(true);
    expect(mxMatches('*.example.net', 'a.b.example.net')).toBe(false);
    expect(mxMatches('*.example.net', 'example.net')).toBe(false);
    expect(mxMatches('*.example.net', 'mx1.example.network')).toBe(false);
  });

  it('allows an MX host when any of the policy’s patterns matches it', () => {
    const parsed = policy('version: STSv1', 'mode: enforce', 'mx: mail.example.com', 'mx: *.example.net', 'max_age: 60');
    if (!parsed.ok) throw new Error(parsed.error);
    expect(['mail.example.com', 'mx9.example.net', 'mail.example.org'].map((host) => policyAllows(parsed.value, host))).toEqual([true, true, false]);
  });
});
