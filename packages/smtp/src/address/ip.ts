/**
 * Client addresses as policies compare them. A dual-stack listener reports an IPv4 client as
 * an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`); limits, networks and greylisting must treat
 * it as the IPv4 address it is. An IPv6 host is usually given a whole /64 and may pick any
 * address in it, so a policy that counts per host counts per /64.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged. */
export function unmappedAddress(address: string): string {
  const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return match?.[1] ?? address;
}

/**
 * The eight groups of an IPv6 address, `::` filled in, lower case without leading zeros
 * (`2001:DB8::1` → 2001 db8 0 0 0 0 0 1); a zone (`%eth0`) is dropped and a dotted IPv4 tail
 * becomes two groups. Null when `address` is not IPv6.
 */
export function ipv6Groups(address: string): string[] | null {
  const plain = address.replace(/%.*$/, '');
  if (!isIPv6(plain)) return null;
  const [head = '', tail] = plain.split('::');
  const split = (text: string): string[] => (text === '' ? [] : text.split(':').flatMap(dottedToGroups));
  const left = split(head);
  const right = split(tail ?? '');
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}

/** A dotted IPv4 tail as two IPv6 groups; any other group unchanged. */
function dottedToGroups(group: string): string[] {
  if (!isIPv4(group)) return [group];
  const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

/**
 * The host a client address stands for, as per-host limits count it: an IPv4 address on its
 * own (mapped or not), an IPv6 address by its /64 (`2001:db8:0:1::/64`). Anything else is
 * returned unchanged.
 */
export function clientHost(address: string): string {
  // Called on every accepted connection: a plain IPv4 address is returned before any parsing.
  if (!address.includes(':')) return address;
  const plain = unmappedAddress(address);
  const groups = plain === address ? ipv6Groups(plain) : null;
  return groups === null ? plain : `${groups.slice(0, 4).join(':')}::/64`;
}
