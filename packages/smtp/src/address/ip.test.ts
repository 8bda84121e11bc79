import { describe, expect, it } from 'vitest';
import { clientHost, ipv6Groups, unmappedAddress } from './ip.js';

describe('unmappedAddress', () => {
  it.each([
    { address: '::ffff:192.0.2.1', plain: '192.0.2.1' },
    { address: '::FFFF:192.0.2.1', plain: '192.0.2.1' },
    { address: '192.0.2.1', plain: '192.0.2.1' },
    { address: '2001:db8::1', plain: '2001:db8::1' },
  ])('$address → $plain', ({ address, plain }) => {
    expect(unmappedAddress(address)).toBe(plain);
  });
});

describe('ipv6Groups', () => {
  it.each([
    { address: '2001:DB8::1', groups: ['2001', 'db8', '0', '0', '0', '0', '0', '1'] },
    { address: '::1', groups: ['0', '0', '0', '0', '0', '0', '0', '1'] },
    { address: '::', groups: ['0', '0', '0', '0', '0', '0', '0', '0'] },
    { address: 'fe80::0001%eth0', groups: ['fe80', '0', '0', '0', '0', '0', '0', '1'] },
    { address: '64:ff9b::192.0.2.33', groups: ['64', 'ff9b', '0', '0', '0', '0', 'c000', '221'] },
    { address: '2001:0db8:0000:0001:0000:0000:0000:0005', groups: ['2001', 'db8', '0', '1', '0', '0', '0', '5'] },
  ])('$address', ({ address, groups }) => {
    expect(ipv6Groups(address)).toEqual(groups);
  });

  it.each(['192.0.2.1', 'example.org', '', '1::2::3'])('%j is not IPv6', (address) => {
    expect(ipv6Groups(address)).toBeNull();
  });
});

describe('clientHost: what a per-host limit counts together', () => {
  it.each([
    // IPv4: each address on its own, mapped or not.
    { address: '192.0.2.7', block: '192.0.2.7' },
    { address: '::ffff:192.0.2.7', block: '192.0.2.7' },
    // IPv6: the /64, however the address is written and whatever its interface part.
    { address: '2001:db8:0:1::5', block: '2001:db8:0:1::/64' },
    { address: '2001:0DB8:0000:0001:ffff:ffff:ffff:ffff', block: '2001:db8:0:1::/64' },
    { address: '2001:db8:0:1:a:b:c:d%eth0', block: '2001:db8:0:1::/64' },
    { address: '2001:db8:0:2::5', block: '2001:db8:0:2::/64' },
    { address: '::1', block: '0:0:0:0::/64' },
  ])('$address → $block', ({ address, block }) => {
    expect(clientHost(address)).toBe(block);
  });
});
