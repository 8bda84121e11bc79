import { describe, it, expect } from 'vitest';
import {
  type Extensions,
  type MailParams,
  type RcptParams,
  type RcptExtensions,
  parseMailParams,
  parseParams,
  parseRcptParams,
} from './params.js';
import type { Parsed } from './result.js';

const all: Extensions = {
  size: 1000,
  eightBitMime: true,
  binaryMime: true,
  smtputf8: true,
  dsn: true,
  auth: true,
  requireTls: true,
};
const none: Extensions = {
  size: null,
  eightBitMime: false,
  binaryMime: false,
  smtputf8: false,
  dsn: false,
  auth: false,
  requireTls: false,
};
const defaults: MailParams = {
  size: null,
  body: null,
  smtputf8: false,
  ret: null,
  envid: null,
  auth: null,
  requireTls: false,
};

/** Parse a MAIL parameter string as the server would: grammar, then meaning. */
function mail(text: string, ext: Extensions = all): Parsed<MailParams> {
  const params = parseParams(text, { utf8: ext.smtputf8 });
  return params.ok ? parseMailParams(params.value, ext) : params;
}

/** Parse an RCPT parameter string as the server would. */
function rcpt(text: string, ext: RcptExtensions = { dsn: true, smtputf8: true }): Parsed<RcptParams> {
  const params = parseParams(text, { utf8: ext.smtputf8 === true });
  return params.ok ? parseRcptParams(params.value, ext) : params;
}

/** The refusal `{ code, enhanced, text }`. */
function refusal(code: number, enhanced: string, text: string) {
  return { ok: false, reply: { code, enhanced, lines: [text] } };
}

describe('parseParams', () => {
  const valid: Array<[string, Array<[string, string | true]>]> = [
    ['', []],
    ['   ', []],
    ['SIZE=1000 BODY=8BITMIME', [['SIZE', '1000'], ['BODY', '8BITMIME']]],
    ['smtputf8', [['SMTPUTF8', true]]],
    ['x-Custom=v', [['X-CUSTOM', 'v']]],
    ['9X=~!<>', [['9X', '~!<>']]],
    ['SIZE=1  BODY=7BIT ', [['SIZE', '1'], ['BODY', '7BIT']]],
    ['ORCPT=rfc822;a+2Bb@x.test', [['ORCPT', 'rfc822;a+2Bb@x.test']]],
  ];
  it.each(valid)('%j', (text, entries) => {
    const result = parseParams(text);
    expect(result).toEqual({ ok: true, value: new Map(entries) });
    // Order is kept.
    if (result.ok) expect([...result.value.keys()]).toEqual(entries.map(([k]) => k));
  });

  const malformed = [
    '=x',
    '-KEY=1',
    'KE_Y=1',
    'KEY.1',
    'SIZE=',
    'ENVID=a=b',
    'ENVID=a\tb',
    'SIZE=1\t',
    'X=\x7f',
    'X=\x00',
    'AUTH=pelé@x.test',
    'ÄKEY=1',
  ];
  it.each(malformed)('%j → 501 5.5.4', (text) => {
    expect(parseParams(text)).toEqual(refusal(501, '5.5.4', 'Bad parameter syntax'));
  });

  it('refuses a duplicate keyword in any case → 501 5.5.4', () => {
    expect(parseParams('SIZE=1 size=2')).toEqual(refusal(501, '5.5.4', 'Duplicate SIZE parameter'));
    expect(parseParams('SMTPUTF8 SMTPUTF8')).toEqual(refusal(501, '5.5.4', 'Duplicate SMTPUTF8 parameter'));
  });

  it('lets values carry UTF-8 only when SMTPUTF8 is offered', () => {
    expect(parseParams('AUTH=pelé@x.test', { utf8: true })).toEqual({ ok: true, value: new Map([['AUTH', 'pelé@x.test']]) });
    expect(parseParams('AUTH=pelé@x.test', { utf8: false })).toEqual(refusal(501, '5.5.4', 'Bad parameter syntax'));
    expect(parseParams('AUTH=\ud800', { utf8: true })).toEqual(refusal(501, '5.5.4', 'Bad parameter syntax'));
    expect(parseParams('AUTH=a\x01', { utf8: true })).toEqual(refusal(501, '5.5.4', 'Bad parameter syntax'));
  });
});

describe('parseMailParams: accepted', () => {
  const cases: Array<[string, Extensions, Partial<MailParams>]> = [
    ['', all, {}],
    ['', none, {}],
    ['SIZE=1000', all, { size: 1000 }],
    ['SIZE=0', all, { size: 0 }],
    ['SIZE=00000000000000000999', all, { size: 999 }],
    // 20 digits, the most RFC 1870 allows; with no fixed maximum it is kept as the nearest double.
    ['SIZE=99999999999999999999', { ...all, size: 0 }, { size: Number('99999999999999999999') }],
    ['BODY=8BITMIME', all, { body: '8BITMIME' }],
    ['body=7bit', all, { body: '7BIT' }],
    ['BODY=binarymime', all, { body: 'BINARYMIME' }],
    ['BODY=7BIT', { ...none, binaryMime: true }, { body: '7BIT' }],
    ['BODY=BINARYMIME', { ...none, binaryMime: true }, { body: 'BINARYMIME' }],
    ['SMTPUTF8', all, { smtputf8: true }],
    ['REQUIRETLS', all, { requireTls: true }],
    ['RET=FULL', all, { ret: 'FULL' }],
    ['RET=hdrs', all, { ret: 'HDRS' }],
    ['ENVID=QQ314159', all, { envid: 'QQ314159' }],
    ['ENVID=QQ314159+2B1+3D+20x', all, { envid: 'QQ314159+1= x' }],
    [`ENVID=${'e'.repeat(100)}`, all, { envid: 'e'.repeat(100) }],
    [`ENVID=${'+2B'.repeat(100)}`, all, { envid: '+'.repeat(100) }],
    ['AUTH=<>', all, { auth: '<>' }],
    ['AUTH=e+3Dmc2@example.com', all, { auth: 'e=mc2@example.com' }],
    ['AUTH=pelé@bücher.test', all, { auth: 'pelé@bücher.test' }],
    [
      'SIZE=512 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id-1 AUTH=<> REQUIRETLS',
      all,
      { size: 512, body: '8BITMIME', smtputf8: true, ret: 'HDRS', envid: 'id-1', auth: '<>', requireTls: true },
    ],
  ];
  it.each(cases)('%j', (text, ext, fields) => {
    expect(mail(text, ext)).toEqual({ ok: true, value: { ...defaults, ...fields } });
  });
});

describe('parseMailParams: refused', () => {
  const notOffered = ['SIZE=1', 'BODY=7BIT', 'SMTPUTF8', 'REQUIRETLS', 'RET=FULL', 'ENVID=x', 'AUTH=<>'];
  it.each(notOffered)('%j when its extension is not offered → 555 5.5.4', (text) => {
    const keyword = text.split('=')[0] ?? '';
    expect(mail(text, none)).toEqual(refusal(555, '5.5.4', `${keyword} parameter not recognized or not implemented`));
  });

  const unknown = ['FOO=1', 'MT-PRIORITY=3', 'NOTIFY=NEVER', 'ORCPT=rfc822;a@b', 'HOLDFOR=10'];
  it.each(unknown)('unknown %j → 555 5.5.4', (text) => {
    const keyword = text.split('=')[0] ?? '';
    expect(mail(text, all)).toEqual(refusal(555, '5.5.4', `${keyword} parameter not recognized or not implemented`));
  });

  it('refuses a BODY value whose extension is not offered → 555 5.5.4', () => {
    expect(mail('BODY=BINARYMIME', { ...all, binaryMime: false })).toEqual(
      refusal(555, '5.5.4', 'BODY=BINARYMIME parameter not recognized or not implemented'),
    );
    expect(mail('BODY=8BITMIME', { ...none, binaryMime: true })).toEqual(
      refusal(555, '5.5.4', 'BODY=8BITMIME parameter not recognized or not implemented'),
    );
  });

  const malformed: Array<[string, string]> = [
    ['SIZE=abc', 'SIZE'],
    ['SIZE', 'SIZE'],
    ['SIZE=-1', 'SIZE'],
    ['SIZE=1.5', 'SIZE'],
    ['SIZE=+1', 'SIZE'],
    ['SIZE=123456789012345678901', 'SIZE'],
    ['BODY=9BIT', 'BODY'],
    ['BODY', 'BODY'],
    ['SMTPUTF8=yes', 'SMTPUTF8'],
    ['REQUIRETLS=1', 'REQUIRETLS'],
    ['RET=ALL', 'RET'],
    ['RET', 'RET'],
    ['ENVID', 'ENVID'],
    ['ENVID=a+2', 'ENVID'],
    ['ENVID=a+2b', 'ENVID'],
    ['ENVID=a+GG', 'ENVID'],
    ['ENVID=a+0A', 'ENVID'],
    ['ENVID=a+7F', 'ENVID'],
    ['ENVID=a+C3+A9', 'ENVID'],
    [`ENVID=${'e'.repeat(101)}`, 'ENVID'],
    [`ENVID=${'+2B'.repeat(101)}`, 'ENVID'],
    ['AUTH', 'AUTH'],
    ['AUTH=+0D+0Afake', 'AUTH'],
    ['AUTH=a+', 'AUTH'],
  ];
  it.each(malformed)('%j → 501 5.5.4', (text, keyword) => {
    expect(mail(text, all)).toEqual(refusal(501, '5.5.4', `Bad ${keyword} parameter syntax`));
  });

  it('SIZE above the fixed maximum → 552 5.3.4', () => {
    expect(mail('SIZE=1001', all)).toEqual(refusal(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
    expect(mail('SIZE=99999999999999999999', all)).toEqual(refusal(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
  });

  it('answers the first fault in the order written', () => {
    expect(mail('FOO=1 SIZE=abc', all)).toEqual(refusal(555, '5.5.4', 'FOO parameter not recognized or not implemented'));
    expect(mail('SIZE=abc FOO=1', all)).toEqual(refusal(501, '5.5.4', 'Bad SIZE parameter syntax'));
    expect(mail('SIZE=5000 RET=ALL', all)).toEqual(refusal(552, '5.3.4', 'Message size exceeds fixed maximum message size'));
  });

  it('reads AUTH= as ASCII xtext when SMTPUTF8 is not offered', () => {
    const params = parseParams('AUTH=pelé@x.test', { utf8: true });
    if (!params.ok) throw new Error('expected parameters');
    expect(parseMailParams(params.value, { ...all, smtputf8: false })).toEqual(refusal(501, '5.5.4', 'Bad AUTH parameter syntax'));
  });
});

describe('parseRcptParams', () => {
  const accepted: Array<[string, RcptParams]> = [
    ['', { notify: null, orcpt: null }],
    ['NOTIFY=NEVER', { notify: 'NEVER', orcpt: null }],
    ['notify=never', { notify: 'NEVER', orcpt: null }],
    ['NOTIFY=SUCCESS', { notify: ['SUCCESS'], orcpt: null }],
    ['NOTIFY=success,failure', { notify: ['SUCCESS', 'FAILURE'], orcpt: null }],
    ['NOTIFY=DELAY,SUCCESS,DELAY', { notify: ['DELAY', 'SUCCESS'], orcpt: null }],
    ['ORCPT=rfc822;user@example.com', { notify: null, orcpt: { type: 'rfc822', address: 'user@example.com' } }],
    ['ORCPT=RFC822;a+2Bb+3Dc@x.test', { notify: null, orcpt: { type: 'rfc822', address: 'a+b=c@x.test' } }],
    ['ORCPT=rfc822;+22a+20b+22@x.test', { notify: null, orcpt: { type: 'rfc822', address: '"a b"@x.test' } }],
    ['ORCPT=x-local;anything', { notify: null, orcpt: { type: 'x-local', address: 'anything' } }],
    [String.raw`ORCPT=utf-8;pel\x{E9}@x.test`, { notify: null, orcpt: { type: 'utf-8', address: 'pelé@x.test' } }],
    [String.raw`ORCPT=UTF-8;a\x{2B}b\x{20}\x{5C}@x.test`, { notify: null, orcpt: { type: 'utf-8', address: 'a+b \\@x.test' } }],
    ['ORCPT=utf-8;pelé@x.test', { notify: null, orcpt: { type: 'utf-8', address: 'pelé@x.test' } }],
    [
      'NOTIFY=FAILURE,DELAY ORCPT=rfc822;u@x.test',
      { notify: ['FAILURE', 'DELAY'], orcpt: { type: 'rfc822', address: 'u@x.test' } },
    ],
  ];
  it.each(accepted)('%j', (text, expected) => {
    expect(rcpt(text)).toEqual({ ok: true, value: expected });
  });

  it('accepts a full Extensions value as well as { dsn }', () => {
    expect(rcpt('NOTIFY=NEVER', all)).toEqual({ ok: true, value: { notify: 'NEVER', orcpt: null } });
    expect(rcpt('NOTIFY=NEVER', { dsn: true })).toEqual({ ok: true, value: { notify: 'NEVER', orcpt: null } });
  });

  const notOffered = ['NOTIFY=NEVER', 'ORCPT=rfc822;a@b.test'];
  it.each(notOffered)('%j without DSN → 555 5.5.4', (text) => {
    const keyword = text.split('=')[0] ?? '';
    expect(rcpt(text, { dsn: false })).toEqual(refusal(555, '5.5.4', `${keyword} parameter not recognized or not implemented`));
  });

  const unknown = ['FOO', 'SIZE=1', 'BODY=8BITMIME', 'RET=FULL'];
  it.each(unknown)('unknown %j → 555 5.5.4', (text) => {
    const keyword = text.split('=')[0] ?? '';
    expect(rcpt(text)).toEqual(refusal(555, '5.5.4', `${keyword} parameter not recognized or not implemented`));
  });

  const malformed: Array<[string, string]> = [
    ['NOTIFY', 'NOTIFY'],
    ['NOTIFY=NEVER,SUCCESS', 'NOTIFY'],
    ['NOTIFY=SUCCESS,NEVER', 'NOTIFY'],
    ['NOTIFY=SOMETIMES', 'NOTIFY'],
    ['NOTIFY=SUCCESS,', 'NOTIFY'],
    ['NOTIFY=,SUCCESS', 'NOTIFY'],
    ['ORCPT', 'ORCPT'],
    ['ORCPT=rfc822', 'ORCPT'],
    ['ORCPT=;a@b.test', 'ORCPT'],
    ['ORCPT=rfc822;', 'ORCPT'],
    ['ORCPT=rf(c;a@b.test', 'ORCPT'],
    ['ORCPT=rfc822;a+0Ab@x.test', 'ORCPT'],
    ['ORCPT=rfc822;a+C3+A9b@x.test', 'ORCPT'],
    ['ORCPT=rfc822;a+2bb@x.test', 'ORCPT'],
    ['ORCPT=rfc822;pelé@x.test', 'ORCPT'],
    ['ORCPT=utf-8;a+2Bb@x.test', 'ORCPT'],
    [String.raw`ORCPT=utf-8;\x{41}@x.test`, 'ORCPT'],
    [String.raw`ORCPT=utf-8;a\x{0A}b@x.test`, 'ORCPT'],
    [String.raw`ORCPT=utf-8;a\b@x.test`, 'ORCPT'],
    ['ORCPT=utf-8;', 'ORCPT'],
  ];
  it.each(malformed)('%j → 501 5.5.4', (text, keyword) => {
    expect(rcpt(text)).toEqual(refusal(501, '5.5.4', `Bad ${keyword} parameter syntax`));
  });

  it('takes raw UTF-8 in a utf-8 ORCPT only when SMTPUTF8 is offered (RFC 6533 unitext)', () => {
    const params = parseParams('ORCPT=utf-8;pelé@x.test', { utf8: true });
    if (!params.ok) throw new Error('expected parameters');
    expect(parseRcptParams(params.value, { dsn: true, smtputf8: false })).toEqual(refusal(501, '5.5.4', 'Bad ORCPT parameter syntax'));
    expect(parseRcptParams(params.value, { dsn: true })).toEqual(refusal(501, '5.5.4', 'Bad ORCPT parameter syntax'));
    expect(parseRcptParams(params.value, { dsn: true, smtputf8: true })).toEqual({
      ok: true,
      value: { notify: null, orcpt: { type: 'utf-8', address: 'pelé@x.test' } },
    });
  });
});
