/**
 * dispositionOf, row by row: what each DMARC outcome, policy, pct, override and ARC chain leads to.
 */
import type { ARCResult, DMARCResult } from 'mailauth';
import { describe, expect, it } from 'vitest';
import type { Assessment } from './assess.js';
import { type Disposition, dispositionOf } from './disposition.js';

type Facts = Pick<Assessment, 'dmarc' | 'spf' | 'dkim' | 'arc' | 'fromDomain'>;
type Result = DMARCResult['status']['result'];

function dmarc(result: Result, record: { p?: string; policy?: string; pct?: number } = {}): DMARCResult {
  const p = record.p ?? 'reject';
  return { domain: 'example.test', policy: record.policy ?? p, p, sp: p, ...(record.pct === undefined ? {} : { pct: record.pct }), status: { result }, alignment: { spf: { result: false, strict: false }, dkim: { result: false, strict: false } }, info: '' };
}

/** An ARC result whose newest seal is by `sealer` and whose AAR says `results`. */
function arcBy(sealer: string, result: Result, results: Record<string, unknown>): ARCResult {
  const value: ARCResult = { i: 1, status: { result }, authenticationResults: results };
  Object.defineProperty(value, 'chain', { value: [{ 'arc-seal': { parsed: { d: { value: sealer } } } }] });
  return value;
}

const noArc: ARCResult = { i: 0, status: { result: 'none' } };

function facts(overrides: Partial<Facts> = {}): Facts {
  return {
    dmarc: dmarc('fail'),
    spf: { domain: 'example.test', 'client-ip': '192.0.2.1', status: { result: 'fail' }, header: '', info: '' },
    dkim: [],
    arc: noArc,
    fromDomain: 'example.test',
    ...overrides,
  };
}

const rules = { override: ['lenient.test'], trustedSealers: ['lists.test'], random: () => 0.5 };

describe('dispositionOf', () => {
  const rows: [string, Facts, Partial<typeof rules>, Partial<Disposition>][] = [
    ['no single From', facts({ dmarc: false }), {}, { action: 'accept', reason: 'none' }],
    ['no record', facts({ dmarc: dmarc('none') }), {}, { action: 'accept', reason: 'none' }],
    ['pass', facts({ dmarc: dmarc('pass') }), {}, { action: 'accept', reason: 'pass', policy: 'reject' }],
    ['record lookup failed', facts({ dmarc: dmarc('temperror') }), {}, { action: 'defer', reason: 'temperror' }],
    ['fail, p=none', facts({ dmarc: dmarc('fail', { p: 'none' }) }), {}, { action: 'accept', reason: 'policy', policy: 'none' }],
    ['fail, p=quarantine', facts({ dmarc: dmarc('fail', { p: 'quarantine' }) }), {}, { action: 'quarantine', reason: 'policy' }],
    ['fail, p=reject', facts(), {}, { action: 'reject', reason: 'policy', policy: 'reject' }],
    ['fail, sp=reject picked for a subdomain', facts({ dmarc: dmarc('fail', { p: 'none', policy: 'reject' }) }), {}, { action: 'reject', policy: 'reject' }],
    ['fail, unknown policy is none', facts({ dmarc: dmarc('fail', { p: 'bogus' }) }), {}, { action: 'accept', policy: 'none' }],
    ['fail, SPF lookup failed', facts({ spf: { ...facts().spf, status: { result: 'temperror' } } }), {}, { action: 'defer', reason: 'temperror' }],
    ['fail, DKIM key lookup failed', facts({ dkim: [{ signingDomain: 'example.test', status: { result: 'temperror' }, info: '' }] }), {}, { action: 'defer', reason: 'temperror' }],
    ['fail, override list', facts({ fromDomain: 'mail.lenient.test' }), {}, { action: 'accept', reason: 'local_policy' }],
    ['fail, pct=40 sampled (0.3 < 0.4)', facts({ dmarc: dmarc('fail', { pct: 40 }) }), { random: () => 0.3 }, { action: 'reject', reason: 'policy' }],
    ['fail, pct=40 not sampled: reject → quarantine', facts({ dmarc: dmarc('fail', { pct: 40 }) }), { random: () => 0.5 }, { action: 'quarantine', reason: 'sampled_out' }],
    ['fail, pct=0: quarantine → none', facts({ dmarc: dmarc('fail', { p: 'quarantine', pct: 0 }) }), { random: () => 0 }, { action: 'accept', reason: 'sampled_out' }],
    ['fail, trusted sealer saw dmarc=pass', facts({ arc: arcBy('lists.test', 'pass', { dmarc: { result: 'pass' } }) }), {}, { action: 'accept', reason: 'trusted_forwarder', sealer: 'lists.test' }],
    ['fail, trusted sealer saw aligned dkim=pass', facts({ arc: arcBy('lists.test', 'pass', { dkim: [{ result: 'pass', header: { d: 'mail.example.test' } }] }) }), {}, { action: 'accept', reason: 'trusted_forwarder' }],
    ['fail, trusted sealer saw unaligned dkim=pass', facts({ arc: arcBy('lists.test', 'pass', { dkim: [{ result: 'pass', header: { d: 'other.test' } }] }) }), {}, { action: 'reject' }],
    ['fail, trusted sealer saw dmarc=fail', facts({ arc: arcBy('lists.test', 'pass', { dmarc: { result: 'fail' } }) }), {}, { action: 'reject' }],
    ['fail, trusted sealer but the chain fails', facts({ arc: arcBy('lists.test', 'fail', { dmarc: { result: 'pass' } }) }), {}, { action: 'reject' }],
    ['fail, untrusted sealer', facts({ arc: arcBy('elsewhere.test', 'pass', { dmarc: { result: 'pass' } }) }), {}, { action: 'reject' }],
  ];
  it.each(rows)('%s', (_name, input, changed, expected) => {
    expect(dispositionOf(input, { ...rules, ...changed })).toMatchObject(expected);
  });
});
