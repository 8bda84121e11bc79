/**
 * Small RFC 5321 / RFC 5322 syntax checks shared by the message helpers.
 *
 * Reads strings; emits booleans and sanitised strings. Internal to `src/message`: the full
 * address grammar lives in `src/address`; these checks only decide whether a piece of text is
 * safe to place verbatim in a header field, and so never accept a control character.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Longest line RFC 5322 §2.1.1 allows, excluding CRLF. */
export const maxLineLength = 998;

/** Line length RFC 5322 §2.1.1 recommends, excluding CRLF. */
export const foldWidth = 78;

const ldhLabel = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** True for an RFC 5321 Domain in LDH form (A-labels only): `mx1.example.org`. */
export function isDomain(text: string): boolean {
  // Sanity checks.
  if (text.length === 0 || text.length > 255) return false;

  // Every label is a Let-dig [Ldh-str] of at most 63 octets.
  for (const label of text.split('.')) {
    if (!ldhLabel.test(label)) return false;
  }
  return true;
}

/** True for an RFC 5321 IPv4 or IPv6 address literal: `[192.0.2.1]`, `[IPv6:2001:db8::1]`. */
export function isAddressLiteral(text: string): boolean {
  if (!text.startsWith('[') || !text.endsWith(']')) return false;
  const inner = text.slice(1, -1);
  if (/^IPv6:/i.test(inner)) return isIPv6(inner.slice(5)) && !inner.includes('%');
  return isIPv4(inner);
}

/** The RFC 5321 address literal for an IP address as a socket reports it. Throws on anything else. */
export function addressLiteral(ip: string): string {
  // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d; record it as IPv4.
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return `[${mapped[1]}]`;
  if (isIPv4(ip)) return `[${ip}]`;

  // A zone index (fe80::1%eth0) is local to this host and not part of the literal syntax.
  const bare = ip.split('%', 1)[0] ?? '';
  if (isIPv6(bare)) return `[IPv6:${bare}]`;
  throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
}

const atext = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;

/** True for an RFC 5322 dot-atom-text: atoms separated by single dots. */
export function isDotAtom(text: string): boolean {
  if (text.length === 0) return false;
  for (const atom of text.split('.')) {
    if (!atext.test(atom)) return false;
  }
  return true;
}

/** True for an RFC 5322 atom. */
export function isAtom(text: string): boolean {
  return atext.test(text);
}

/** True when `text` holds no C0 control, DEL or C1 control: nothing that could break a line. */
export function isLineSafe(text: string): boolean {
  return !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(text);
}

/**
 * Text for the inside of an RFC 5322 comment: printable ASCII only, parentheses and backslash
 * quoted, anything else (line breaks included) replaced by `?`, cut to `max` source characters.
 */
export function commentText(text: string, max: number): string {
  let out = '';
  let count = 0;
  for (const ch of text) {
    if (count === max) return `${out}...`;
    count += 1;
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code > 0x7e) out += '?';
    else if (ch === '(' || ch === ')' || ch === '\\') out += `\\${ch}`;
    else out += ch;
  }
  return out;
}
