/**
 * Domains and address literals of RFC 5321 §4.1.2 / §4.1.3, with RFC 6531 U-labels.
 *
 * Reads the text after the `@` of a mailbox or of a source-route hop. Emits verdicts only
 * (is it a Domain; which address literal is it); the path parser turns them into replies.
 *
 *   Domain         = sub-domain *("." sub-domain)
 *   sub-domain     = Let-dig [Ldh-str]           ; RFC 6531 adds U-label
 *   address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
 *                           General-address-literal ) "]"
 *
 * A label is also held to the DNS limit of 63 octets (RFC 1035 §2.3.4), which RFC 5321 §2.3.5
 * inherits by requiring domains to be real DNS names.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

/** An address literal, with its value as written (without the brackets or the `IPv6:` tag). */
export interface AddressLiteral {
  readonly kind: 'ipv4' | 'ipv6' | 'general';
  /** ipv4: `1.2.3.4`; ipv6: the address after `IPv6:`; general: the whole `tag:content`. */
  readonly value: string;
}

const ldhLabel = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const maxLabelOctets = 63;
const nonAscii = /[^\x00-\x7f]/;
const ipv4Literal = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const ipv6Chars = /^[0-9A-Fa-f:.]+$/;
const ipv6Hex = /^[0-9A-Fa-f]{1,4}$/;
const standardizedTag = /^[A-Za-z0-9-]*[A-Za-z0-9]$/;
const dcontent = /^[\x21-\x5a\x5e-\x7e]+$/;

/** True when `text` is a Domain: dot-separated labels, none empty, no trailing dot. */
export function isDomain(text: string): boolean {
  if (text === '') return false;
  return text.split('.').every(isLabel);
}

/** One sub-domain: an LDH label, or a U-label whose A-label is one. */
function isLabel(label: string): boolean {
  if (!nonAscii.test(label)) return label.length <= maxLabelOctets && ldhLabel.test(label);

  // A U-label (RFC 5890 §2.3.2.1, RFC 5891 §4.2.3.1): NFC, no hyphen at either end or in
  // positions 3 and 4, and its A-label is itself a valid LDH label within the length limit.
  if (label.normalize('NFC') !== label) return false;
  if (label.startsWith('-') || label.endsWith('-') || label.slice(2, 4) === '--') return false;
  const aLabel = domainToASCII(label);
  return aLabel.startsWith('xn--') && aLabel.length <= maxLabelOctets && ldhLabel.test(aLabel);
}

/** The address literal between `[` and `]`, or null when it is none of the RFC 5321 forms. */
export function parseAddressLiteral(inner: string): AddressLiteral | null {
  if (isIpv4Literal(inner)) return { kind: 'ipv4', value: inner };

  const colon = inner.indexOf(':');
  if (colon < 0) return null;
  const tag = inner.slice(0, colon);
  const rest = inner.slice(colon + 1);

  // "IPv6:" is an ABNF string, so case-insensitive; with that tag nothing else is acceptable.
  if (tag.toLowerCase() === 'ipv6') return isIpv6Literal(rest) ? { kind: 'ipv6', value: rest } : null;
  if (standardizedTag.test(tag) && dcontent.test(rest)) return { kind: 'general', value: inner };
  return null;
}

/** IPv4-address-literal: four Snum, each 1–3 digits valued 0–255 (leading zeros allowed). */
function isIpv4Literal(text: string): boolean {
  return canonicalIpv4(text) !== null;
}

/** The address without leading zeros, or null when `text` is not four Snum. */
function canonicalIpv4(text: string): string | null {
  const m = ipv4Literal.exec(text);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return null;
  const canonical = octets.join('.');
  return isIP(canonical) === 4 ? canonical : null;
}

/** IPv6-addr of RFC 5321 §4.1.3: full, compressed, and both with an IPv4 tail. */
function isIpv6Literal(text: string): boolean {
  // Sanity checks: only hex digits, colons and the dots of an IPv4 tail; at most one "::".
  if (!ipv6Chars.test(text)) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;

  // Count 16-bit units; an IPv4 tail may only end the address and counts as two.
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  let units = 0;
  let v4Tail: string | null = null;
  for (let i = 0; i < groups.length; i += 1) {
    const g = groups[i] ?? '';
    if (ipv6Hex.test(g)) {
      units += 1;
    } else if (i === groups.length - 1 && !text.endsWith(':') && (v4Tail = canonicalIpv4(g)) !== null) {
      units += 2;
    } else {
      return false;
    }
  }

  // "::" stands for at least two groups of zeros (RFC 5321 §4.1.3), so at most six others.
  if (halves.length === 1 ? units !== 8 : units > 6) return false;

  // Cross-check with the platform parser, on the IPv4 tail written without leading zeros.
  const normalised = v4Tail === null ? text : text.slice(0, text.lastIndexOf(':') + 1) + v4Tail;
  return isIP(normalised) === 6;
}
