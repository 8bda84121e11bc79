/**
 * MX resolution (RFC 5321 §5.1, RFC 7505) against a real resolver: dnsmasq serving the test
 * domains' records on a loopback port, and a server answering SERVFAIL or nothing at all.
 */
import { describe, expect, it } from 'vitest';
import { dnsmasqForTests, startBrokenDns } from '@mailway/testing/dns';
import { type MxOptions, resolveNextHops } from '../src/outbound/mx.js';

const world = dnsmasqForTests({
  mx: [
    ['two.test', 'mx2.two.test', 20],
    ['two.test', 'mx1.two.test', 10],
    ['equal.test', 'a.equal.test', 10],
    ['equal.test', 'b.equal.test', 10],
    ['equal.test', 'c.equal.test', 10],
    ['equal.test', 'backup.equal.test', 30],
    ['null.test', '.', 0],
    ['partial.test', 'ghost.partial.test', 5],
    ['partial.test', 'real.partial.test', 10],
    ['ghosts.test', 'ghost1.ghosts.test', 10],
    ['ghosts.test', 'ghost2.ghosts.test', 20],
    ['self.test', 'mx.self.test', 10],
    ['self.test', 'mail.mailway.test', 20],
    ['self.test', 'after.self.test', 30],
    ['selfirst.test', 'mail.mailway.test', 10],
    ['selfirst.test', 'mx.self.test', 20],
    ['selfaddr.test', 'mx.selfaddr.test', 10],
    ['broken.test', 'mx.broken-ns.test', 10],
  ],
  hosts: [
    ['mx1.two.test', '127.0.0.11'],
    ['mx2.two.test', '127.0.0.12'],
    ['a.equal.test', '127.0.1.1'],
    ['b.equal.test', '127.0.1.2'],
    ['c.equal.test', '127.0.1.3'],
    ['backup.equal.test', '127.0.1.9'],
    ['implicit.test', '127.0.0.13'],
    ['dual.test', '127.0.0.14', '::1'],
    ['v6only.test', '::1'],
    ['real.partial.test', '127.0.0.15'],
    ['mx.self.test', '127.0.0.16'],
    ['after.self.test', '127.0.0.17'],
    ['mx.selfaddr.test', '127.0.0.25'],
  ],
  txt: [['noaddr.test', 'v=spf1 -all']],
  nxdomain: ['gone.test', 'ghost.partial.test'],
});

const options = (overrides: Partial<MxOptions> = {}): MxOptions => ({
  dns: world.dns.resolver(),
  ownNames: ['mail.mailway.test'],
  ownAddresses: ['127.0.0.25'],
  addressOrder: 'ipv6-first',
  ...overrides,
});

const addresses = async (domain: string, overrides: Partial<MxOptions> = {}): Promise<string[]> => {
  const result = await resolveNextHops(domain, options(overrides));
  if (result.kind !== 'hops') throw new Error(`${domain}: ${result.status} ${result.detail}`);
  return result.hops.map((hop) => `${hop.host} ${hop.address} ${hop.preference}`);
};

describe('next hops for a domain', () => {
  it('MX hosts in order of preference, whatever the order DNS gives them in', async () => {
    expect(await addresses('two.test')).toEqual(['mx1.two.test 127.0.0.11 10', 'mx2.two.test 127.0.0.12 20']);
  });

  it('MX hosts of equal preference in random order, the less preferred after them', async () => {
    const orders = new Set<string>();
    for (const random of [0, 0.2, 0.4, 0.6, 0.8, 0.99]) {
      const hops = await addresses('equal.test', { random: () => random });
      expect(hops.at(-1)).toBe('backup.equal.test 127.0.1.9 30');
      expect(hops.slice(0, 3).sort()).toEqual(['a.equal.test 127.0.1.1 10', 'b.equal.test 127.0.1.2 10', 'c.equal.test 127.0.1.3 10']);
      orders.add(hops.slice(0, 3).join('|'));
    }
    expect(orders.size).toBeGreaterThan(1);
  });

  it('no MX records: the domain itself is the mail exchanger (implicit MX)', async () => {
    expect(await addresses('implicit.test')).toEqual(['implicit.test 127.0.0.13 0']);
  });

  it('every address of a host, in the configured family order', async () => {
    expect(await addresses('dual.test')).toEqual(['dual.test ::1 0', 'dual.test 127.0.0.14 0']);
    expect(await addresses('dual.test', { addressOrder: 'ipv4-first' })).toEqual(['dual.test 127.0.0.14 0', 'dual.test ::1 0']);
    expect(await addresses('dual.test', { addressOrder: 'ipv4-only' })).toEqual(['dual.test 127.0.0.14 0']);
    expect(await addresses('dual.test', { addressOrder: 'ipv6-only' })).toEqual(['dual.test ::1 0']);
    expect(await addresses('v6only.test', { addressOrder: 'ipv4-first' })).toEqual(['v6only.test ::1 0']);
  });

  it('an MX host that does not exist is skipped', async () => {
    expect(await addresses('partial.test')).toEqual(['real.partial.test 127.0.0.15 10']);
  });

  it('an address literal is its own next hop', async () => {
    expect(await addresses('[127.0.0.30]')).toEqual(['[127.0.0.30] 127.0.0.30 0']);
    expect(await addresses('[IPv6:::1]')).toEqual(['[IPv6:::1] ::1 0']);
  });

  it('this host in the list: it and every less preferred MX are dropped', async () => {
    expect(await addresses('self.test')).toEqual(['mx.self.test 127.0.0.16 10']);
  });
});

describe('domains mail cannot go to', () => {
  const failure = async (domain: string, overrides: Partial<MxOptions> = {}): Promise<string> => {
    const result = await resolveNextHops(domain, options(overrides));
    if (result.kind !== 'failed') throw new Error(`${domain}: expected a failure, got ${JSON.stringify(result.hops)}`);
    return `${result.permanent ? 'permanent' : 'temporary'} ${result.status}`;
  };

  it.each([
    ['null.test', 'a null MX (RFC 7505)', 'permanent 5.1.10'],
    ['gone.test', 'NXDOMAIN', 'permanent 5.1.2'],
    ['noaddr.test', 'no MX and no address', 'permanent 5.4.4'],
    ['ghosts.test', 'no MX host with an address', 'permanent 5.4.4'],
    ['selfirst.test', 'this host as the most preferred MX', 'permanent 5.4.6'],
    ['selfaddr.test', 'an MX whose address is this host', 'permanent 5.4.6'],
    ['[127.0.0.25]', 'an address literal of this host', 'permanent 5.4.6'],
    ['[300.1.1.1]', 'an invalid address literal', 'permanent 5.1.2'],
  ])('%s (%s): %s', async (domain, _what, expected) => {
    expect(await failure(domain)).toBe(expected);
  });

  it.each([
    ['SERVFAIL', 'servfail'],
    ['a DNS server that never answers', 'silent'],
  ] as const)('%s is temporary (4.4.3)', async (_what, mode) => {
    const broken = await startBrokenDns(mode);
    try {
      expect(await failure('two.test', { dns: broken.resolver() })).toBe('temporary 4.4.3');
    } finally {
      await broken.stop();
    }
  });

  it('an MX host whose address lookup fails for now makes the domain temporary, not permanent', async () => {
    // The MX answer comes from dnsmasq; every address lookup goes to a server answering SERVFAIL.
    const broken = await startBrokenDns('servfail');
    const good = world.dns.resolver();
    const bad = broken.resolver();
    try {
      const split = { resolveMx: (name: string) => good.resolveMx(name), resolve4: (name: string) => bad.resolve4(name), resolve6: (name: string) => bad.resolve6(name) };
      expect(await failure('two.test', { dns: split })).toBe('temporary 4.4.3');
    } finally {
      await broken.stop();
    }
  });
});
