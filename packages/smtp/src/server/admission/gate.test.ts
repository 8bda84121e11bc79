/**
 * The admission gate on its own, with a clock the test moves: which connection is refused for
 * what, how clients are counted (IPv4, IPv4-mapped, IPv6 /64), exemptions, the sliding minute,
 * and the numbering of refusals that lets an agent log once per client per minute.
 */
import { describe, expect, it } from 'vitest';
import { clientHost } from '../../address/ip.js';
import { AdmissionGate, type AdmissionOptions, type Refusal, type Refused, type Ticket, isRefused } from './gate.js';

function gate(options: AdmissionOptions): { gate: AdmissionGate; refusals: Refusal[]; clock: { now: number } } {
  const refusals: Refusal[] = [];
  const clock = { now: 1_000_000 };
  return { gate: new AdmissionGate({ ...options, onRefuse: (r) => refusals.push(r) }, 'mx.test', () => clock.now), refusals, clock };
}

const status = (a: Ticket | Refused): string => (isRefused(a) ? `${a.reply.code} ${a.reply.enhanced} ${a.reply.lines.join(' ')}` : 'admitted');

describe('clientHost', () => {
  it.each([
    { address: '192.0.2.7', host: '192.0.2.7' },
    { address: '::ffff:192.0.2.7', host: '192.0.2.7' },
    { address: '2001:db8:0:1::5', host: '2001:db8:0:1::/64' },
    { address: '2001:0DB8:0000:0001:ffff::9', host: '2001:db8:0:1::/64' },
    { address: '::1', host: '0:0:0:0::/64' },
  ])('$address → $host', ({ address, host }) => {
    expect(clientHost(address)).toBe(host);
  });
});

describe('AdmissionGate', () => {
  it('refuses the session over the per-client limit with 421 4.7.0, and admits again once one ends', () => {
    const { gate: g, refusals } = gate({ perClient: 2 });
    const first = g.admit('192.0.2.1');
    expect(status(g.admit('::ffff:192.0.2.1'))).toBe('admitted');
    expect(status(g.admit('192.0.2.1'))).toBe('421 4.7.0 mx.test Too many connections from your host');
    expect(status(g.admit('192.0.2.2'))).toBe('admitted');
    expect(refusals).toEqual([{ kind: 'client-sessions', address: '192.0.2.1', client: '192.0.2.1', limit: 2, repeat: 1 }]);
    if (isRefused(first)) throw new Error('first refused');
    g.release(first);
    expect(status(g.admit('192.0.2.1'))).toBe('admitted');
    expect(g.sessions).toBe(3);
  });

  it('counts an IPv6 client by its /64', () => {
    const { gate: g } = gate({ perClient: 1 });
    expect(status(g.admit('2001:db8:0:1::1'))).toBe('admitted');
    expect(status(g.admit('2001:db8:0:1:ffff::2'))).toMatch(/^421 4\.7\.0/);
    expect(status(g.admit('2001:db8:0:2::1'))).toBe('admitted');
  });

  it('caps the listener for everyone, exempt clients included, with 421 4.3.2', () => {
    const { gate: g, refusals } = gate({ maxSessions: 2, perClient: 5, exempt: ['10.0.0.0/8'] });
    expect(status(g.admit('10.1.1.1'))).toBe('admitted');
    expect(status(g.admit('192.0.2.1'))).toBe('admitted');
    expect(status(g.admit('10.1.1.1'))).toBe('421 4.3.2 mx.test Too busy, try later');
    expect(status(g.admit('192.0.2.9'))).toBe('421 4.3.2 mx.test Too busy, try later');
    expect(refusals.map((r) => r.kind)).toEqual(['server-sessions', 'server-sessions']);
  });

  it('exempts the configured networks from the per-client limits', () => {
    const { gate: g } = gate({ perClient: 1, perClientPerMinute: 1, exempt: ['192.0.2.0/24', '2001:db8::/32'] });
    for (let i = 0; i < 5; i += 1) expect(status(g.admit('192.0.2.1'))).toBe('admitted');
    for (let i = 0; i < 5; i += 1) expect(status(g.admit('2001:db8::7'))).toBe('admitted');
    expect(status(g.admit('198.51.100.1'))).toBe('admitted');
    expect(status(g.admit('198.51.100.1'))).toMatch(/^421 4\.7\.0/);
  });

  it('limits new connections per client over a sliding minute', () => {
    const { gate: g, refusals, clock } = gate({ perClientPerMinute: 3 });
    const admitted = (address: string): boolean => {
      const a = g.admit(address);
      if (!isRefused(a)) g.release(a);
      return !isRefused(a);
    };
    expect([admitted('192.0.2.1'), admitted('192.0.2.1'), admitted('192.0.2.1')]).toEqual([true, true, true]);
    expect(status(g.admit('192.0.2.1'))).toBe('421 4.7.0 mx.test Too many new connections from your host, try again later');
    expect(admitted('192.0.2.2')).toBe(true);

    // 30 s into the next window, half of the last window still counts: 4 × 0.5 + 1 ≤ 3.
    clock.now += 90_000;
    expect(admitted('192.0.2.1')).toBe(true);
    expect(admitted('192.0.2.1')).toBe(false);
    // Two minutes of quiet: nothing carries over.
    clock.now += 120_000;
    expect([admitted('192.0.2.1'), admitted('192.0.2.1'), admitted('192.0.2.1')]).toEqual([true, true, true]);
    expect(refusals.map((r) => [r.kind, r.limit])).toEqual([
      ['client-rate', 3],
      ['client-rate', 3],
    ]);
  });

  it('numbers each client’s refusals within the minute, so one line per client per minute can be logged', () => {
    const { gate: g, refusals, clock } = gate({ perClient: 1 });
    g.admit('192.0.2.1');
    g.admit('192.0.2.2');
    for (let i = 0; i < 3; i += 1) g.admit('192.0.2.1');
    g.admit('192.0.2.2');
    clock.now += 60_000;
    g.admit('192.0.2.1');
    expect(refusals.map((r) => `${r.client}#${r.repeat}`)).toEqual(['192.0.2.1#1', '192.0.2.1#2', '192.0.2.1#3', '192.0.2.2#1', '192.0.2.1#1']);
  });

  it.each([{ maxSessions: 0 }, { perClient: 1.5 }, { perClientPerMinute: -1 }])('refuses the setting %j', (options) => {
    expect(() => new AdmissionGate(options, 'mx.test')).toThrow(RangeError);
  });

  it('refuses an exempt list with a bad block, quoting it', () => {
    expect(() => new AdmissionGate({ exempt: ['192.0.2.0/33'] }, 'mx.test')).toThrow(/"192\.0\.2\.0\/33"/);
  });
});
