/**
 * Relay networks (RELAY_NETWORKS): the client addresses trusted to relay to any domain.
 * Reads CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`, or a single address); answers whether a
 * client address lies in one. IPv4-mapped IPv6 clients (`::ffff:192.0.2.1`) match IPv4 blocks.
 */
import { BlockList, isIP } from 'node:net';
import { unmappedAddress } from '@mailway/smtp/address';

export interface RelayNetworks {
  /** True when `address` is inside one of the configured networks. */
  contains(address: string): boolean;
}

/** Parse the configured blocks; throws naming the first one that is not a CIDR block or address. */
export function relayNetworks(blocks: readonly string[]): RelayNetworks {
  const list = new BlockList();
  for (const block of blocks) {
    const [address = '', bits, extra] = block.trim().split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (family === 0 || extra !== undefined || !/^\d{1,3}$/.test(bits ?? String(max)) || prefix > max) {
      throw new Error(`RELAY_NETWORKS: ${JSON.stringify(block)} is not a network such as 192.0.2.0/24 or 2001:db8::/32`);
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }

  return {
    contains(address) {
      const plain = unmappedAddress(address);
      const family = isIP(plain);
      if (family === 0) return false;
      return list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
