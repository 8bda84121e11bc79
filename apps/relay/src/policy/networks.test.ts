import { describe, expect, it } from 'vitest';
import { clientNetwork } from './greylist.js';
import { relayNetworks } from './networks.js';

describe('relayNetworks', () => {
  const networks = relayNetworks(['192.0.2.0/24', '10.1.2.3', '2001:db8::/32']);
  it.each([
    { address: '192.0.2.77', inside: true },
    { address: '::ffff:192.0.2.77', inside: true },
    { address: '192.0.3.1', inside: false },
    { address: '10.1.2.3', inside: true },
    { address: '10.1.2.4', inside: false },
    { address: '2001:db8:1::5', inside: true },
    { address: '2001:db9::5', inside: false },
    { address: 'not-an-ip', inside: false },
  ])('$address → $inside', ({ address, inside }) => {
    expect(networks.contains(address)).toBe(inside);
  });

  it('is empty by default: nobody relays', () => {
    expect(relayNetworks([]).contains('127.0.0.1')).toBe(false);
  });

  it.each(['192.0.2.0/33', '192.0.2/24', 'example.org', '2001:db8::/129', '192.0.2.0/24/8'])('refuses %j, naming the setting', (block) => {
    expect(() => relayNetworks([block])).toThrow(/^RELAY_NETWORKS: /);
  });
});

describe('clientNetwork (greylisting)', () => {
  it.each([
    { address: '192.0.2.77', network: '192.0.2' },
    { address: '::ffff:192.0.2.77', network: '192.0.2' },
    { address: '2001:db8:0:1::5', network: '2001:db8:0:1' },
    { address: '2001:0DB8:0000:0001:ffff::1', network: '2001:db8:0:1' },
    { address: '::1', network: '0:0:0:0' },
  ])('$address → $network', ({ address, network }) => {
    expect(clientNetwork(address)).toBe(network);
  });
});
