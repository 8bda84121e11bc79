/**
 * Envelope addresses as the relay stores them. Reads parsed paths (@mailway/smtp); emits the
 * `local@domain` text kept in jobs (routingDomain, in @mailway/intake, reads it back).
 *
 * The local part is kept exactly as written (quotes included), so `"user@remote"@local.example`
 * stays one mailbox in local.example: the domain is always what follows the last `@`, and a
 * `%`, `!` or `@` inside a local part never routes anywhere.
 */
import type { Address } from '@mailway/smtp/address';

/** `local@domain` of a parsed path; the bare `<Postmaster>` (RFC 5321 §4.5.1) is this host's postmaster. */
export function envelopeAddress(address: Address, hostname: string): string {
  return address.domain === '' ? `postmaster@${hostname}` : `${address.local}@${address.domain}`;
}
