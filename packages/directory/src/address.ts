/**
 * Address normalisation: the one spelling under which the directory stores and compares
 * addresses, so `Alice@Example.COM` and `alice@example.com` are one user.
 *
 * Reads an address as an administrator or an SMTP session gives it. Emits `local@domain` with
 * the text trimmed, the local part lowercased and the domain lowercased in its ASCII form
 * (a U-label domain becomes its A-label, `bücher.example` → `xn--bcher-kva.example`).
 * Throws DirectoryError for anything that is not local@domain.
 */
import { domainToASCII } from 'node:url';
import { DirectoryError } from './errors.js';

const ldhLabel = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const nonAscii = /[^\x00-\x7f]/;
const control = /[\x00-\x1f\x7f]/;
const maxLabelOctets = 63;
const maxDomainOctets = 253;

/** An address split at its last `@`. */
export interface AddressParts {
  readonly local: string;
  readonly domain: string;
}

/** The canonical `local@domain` spelling of an address. */
export function normalizeAddress(text: string): string {
  const { local, domain } = splitAddress(text);
  return `${local}@${domain}`;
}

/** The canonical local part and domain of an address. */
export function splitAddress(text: string): AddressParts {
  // The last `@`: a quoted local part may itself contain one.
  const trimmed = text.trim();
  const at = trimmed.lastIndexOf('@');
  const local = trimmed.slice(0, at);
  if (at <= 0 || control.test(local)) throw new DirectoryError(`not an address (local@domain): ${JSON.stringify(text)}`);
  return { local: local.toLowerCase(), domain: normalizeDomain(trimmed.slice(at + 1)) };
}

/** The canonical spelling of a domain name: lowercase, A-labels. */
export function normalizeDomain(text: string): string {
  // Label by label, and only for U-labels: given a whole ASCII name or a numeric label, the
  // URL host parser would read it as an IPv4 address (`127.1` → `127.0.0.1`).
  const labels = text
    .trim()
    .split('.')
    .map((label) => (nonAscii.test(label) ? domainToASCII(label) : label.toLowerCase()));
  const domain = labels.join('.');
  const valid = domain.length <= maxDomainOctets && labels.every((l) => l.length <= maxLabelOctets && ldhLabel.test(l));
  if (!valid) throw new DirectoryError(`not a domain name: ${JSON.stringify(text)}`);
  return domain;
}

/** The canonical spelling of a send-as entry: an address, or `@domain` for a whole domain. */
export function normalizeSendAs(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith('@') ? `@${normalizeDomain(trimmed.slice(1))}` : normalizeAddress(trimmed);
}

/** The address without its sub-address tag (`user+tag@domain` → `user@domain`, tag `tag`), or null when it has none. */
export function splitSubaddress(address: string, separator: string): { base: string; tag: string } | null {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const cut = local.indexOf(separator);
  if (cut <= 0) return null;
  return { base: `${local.slice(0, cut)}${address.slice(at)}`, tag: local.slice(cut + separator.length) };
}
