/**
 * Client addresses as policies compare them. A dual-stack listener reports an IPv4 client as
 * an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`); limits, networks and greylisting must treat
 * it as the IPv4 address it is.
 */

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged. */
export function unmappedAddress(address: string): string {
  const match = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return match?.[1] ?? address;
}
