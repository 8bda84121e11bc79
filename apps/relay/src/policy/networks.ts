/**
 * Relay networks (RELAY_NETWORKS): the client addresses trusted to relay to any domain.
 * Reads CIDR blocks (`192.0.2.0/24`, `2001:db8::/32`, or a single address); answers whether a
 * client address lies in one. IPv4-mapped IPv6 clients (`::ffff:192.0.2.1`) match IPv4 blocks.
 */
import { type NetworkList, networkList } from '@mailway/smtp/address';

export type RelayNetworks = NetworkList;

/** Parse the configured blocks; throws naming the setting and the first block that is not a network or address. */
export function relayNetworks(blocks: readonly string[], key = 'RELAY_NETWORKS'): RelayNetworks {
  try {
    return networkList(blocks);
  } catch (error) {
    throw new Error(`${key}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
