/**
 * Client addresses as policies compare them. A dual-stack listener reports an IPv4 client as
 * an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`); limits, networks and greylisting must treat
 * it as the IPv4 address it is. One IPv6 host usually holds a whole /64, so per-host policies
 * count IPv6 clients by their /64.
 */
import { isIPv6 } from 'node:net';

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged. */
export function unmappedAddress(address: string): string {
  const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return match?.[1] ?? address;
}

/**
 * The eight groups of an IPv6 address, `::` filled in, lower case, leading zeros dropped
 * (`2001:0DB8::1` → 2001 db8 0 0 0 0 0 1).
 */
export function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = Array.from({ length: Math.max(0, 8 - left.length - right.length) }, () => '0');
  return [...left, ...zeros, ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}

/**
 * The host a client address stands for: an IPv4 address (unmapped) as it is, an IPv6 address
 * as its /64 (`2001:db8:0:1::/64`).
 */
export function clientHost(address: string): string {
  // Called on every accepted connection: a plain IPv4 address is returned before any parsing.
  if (!address.includes(':')) return address;
  const plain = unmappedAddress(address);
  if (plain !== address || !isIPv6(plain)) return plain;
  return `${ipv6Groups(plain).slice(0, 4).join(':')}::/64`;
}
