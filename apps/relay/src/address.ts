/**
 * Envelope addresses as the relay stores and routes them. Reads parsed paths (@mailway/smtp)
 * or stored `local@domain` text; emits the text kept in jobs and the routing domain.
 *
 * The local part is kept exactly as written (quotes included), so `"user@remote"@local.example`
 * stays one mailbox in local.example: the domain is always what follows the last `@`, and a
 * `%`, `!` or `@` inside a local part never routes anywhere.
 */
import { type Address, asciiDomain } from '@mailway/smtp/address';

/** `local@domain` of a parsed path; the bare `<Postmaster>` (RFC 5321 §4.5.1) is this host's postmaster. */
export function envelopeAddress(address: Address, hostname: string): string {
  return address.domain === '' ? `postmaster@${hostname}` : `${address.local}@${address.domain}`;
}

/** The domain of a stored address, lower-case with A-labels (an address literal is kept as written). */
export function routingDomain(address: string): string {
  return asciiDomain(address.slice(address.lastIndexOf('@') + 1));
}

/** True when the domain is an address literal (`[192.0.2.1]`, `[IPv6:…]`): never one of ours. */
export function isAddressLiteral(domain: string): boolean {
  return domain.startsWith('[');
}
