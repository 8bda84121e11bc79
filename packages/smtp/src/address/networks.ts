/**
 * Lists of client networks (CIDR blocks such as `192.0.2.0/24`, `2001:db8::/32`, or single
 * addresses), as trust and exemption settings name them. Reads the blocks once; answers
 * whether a client address lies in one. IPv4-mapped IPv6 clients match IPv4 blocks.
 */
import { BlockList, isIP } from 'node:net';
import { unmappedAddress } from './ip.js';

export interface NetworkList {
  /** True when `address` is inside one of the networks. */
  contains(address: string): boolean;
}

/** Parses the blocks; throws a RangeError quoting the first one that is not a network or address. */
export function networkList(blocks: readonly string[]): NetworkList {
  const list = new BlockList();
  for (const block of blocks) {
    const [address = '', bits, extra] = block.trim().split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : Number(bits);
    if (family === 0 || extra !== undefined || !/^\d{1,3}$/.test(bits ?? String(max)) || prefix > max) {
      throw new RangeError(`${JSON.stringify(block)} is not a network such as 192.0.2.0/24 or 2001:db8::/32`);
    }
    list.addSubnet(address, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }

  // BlockList.check builds a SocketAddress on every call, and a session asks several times per
  // message: answers are kept per address (the list never changes), a bounded number of them.
  const answers = new Map<string, boolean>();
  return {
    contains(address) {
      const known = answers.get(address);
      if (known !== undefined) return known;
      const plain = unmappedAddress(address);
      const family = isIP(plain);
      const inside = family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
      if (answers.size >= maxAnswers) answers.clear();
      answers.set(address, inside);
      return inside;
    },
  };
}

/** Most addresses whose answers a list keeps. */
const maxAnswers = 4096;
