/**
 * Reverse- and forward-paths: the `<…>` argument of MAIL FROM and RCPT TO (RFC 5321 §4.1.2).
 *
 * Reads the command argument after the colon: `splitPathAndParams` separates the path from the
 * ESMTP parameters, then `parseReversePath` / `parseForwardPath` parse the path exactly by the
 * RFC 5321 grammar (source routes, Dot-string and Quoted-string local parts, domains, address
 * literals), with RFC 6531 UTF-8 when the transaction is SMTPUTF8, and check the §4.5.3.1 length
 * limits. Emits an Address (null for `<>`) or the exact reply for the first fault.
 *
 * Policy is decided elsewhere: relay tricks such as `user%host@…`, `host!user@…`, a quoted `@`
 * in the local part, source routes and address literals all parse faithfully.
 *
 * Replies, and why:
 *   501 5.5.4  no `<…>` at all: the argument does not have the shape of a path, a malformed
 *              command rather than a bad address (Postfix: "Syntax: MAIL FROM:<address>").
 *   501 5.1.7  MAIL path that breaks the grammar (RFC 3463: bad sender's mailbox syntax).
 *   501 5.1.3  RCPT path that breaks the grammar, including `<>` (bad destination syntax).
 *   501 5.1.7 / 5.1.3  local part over 64, domain over 255 or path over 256 octets:
 *              RFC 5321 §4.5.3.1.10 names "501 Path too long"; the enhanced code says which
 *              address was at fault.
 *   553 5.6.7  non-ASCII address outside an SMTPUTF8 transaction (RFC 6531 §3.7.4.1: 553,
 *              with X.6.7 "non-ASCII addresses not permitted for that sender/recipient").
 *
 * Octets are counted in UTF-8. The path limit includes the angle brackets and any source route;
 * a domain must fit 255 octets both as written and in its A-label form.
 */
import { domainToASCII } from 'node:url';
import { Enhanced } from '../reply/codes.js';
import { type Reply, reply } from '../reply/reply.js';
import { type AddressLiteral, isDomain, parseAddressLiteral } from './domain.js';
import { type Parsed, fail, ok } from './result.js';

/** A mailbox as it appeared in a path. */
export interface Address {
  /** Local part as written: quotes and escapes kept when it was a Quoted-string. */
  readonly local: string;
  /** Local part unquoted and de-escaped. */
  readonly localValue: string;
  /** Domain as written: a domain name or a bracketed literal; '' only for `<Postmaster>`. */
  readonly domain: string;
  /** The parsed address literal when the domain is one. */
  readonly literal: AddressLiteral | null;
  /** Source-route hops (RFC 5321 §4.1.1.3, appendix C): accepted, then ignored. */
  readonly route: readonly string[];
  /** True when the path carries any non-ASCII character. */
  readonly utf8: boolean;
}

export interface PathOptions {
  /** The transaction is SMTPUTF8 (the MAIL command carried the SMTPUTF8 parameter). */
  readonly smtputf8: boolean;
}

export interface SplitPath {
  /** The path, brackets included, or the first word when there is no `<`. */
  readonly path: string;
  /** The ESMTP parameters after the path, leading spaces removed; '' when none. */
  readonly params: string;
}

type PathRole = 'mail' | 'rcpt';
type PathFault = 'usage' | 'syntax' | 'localTooLong' | 'domainTooLong' | 'pathTooLong' | 'needsUtf8';

/** Every reply a path can earn, by command. */
const pathReplies = {
  mail: {
    usage: reply(501, Enhanced.invalidArguments, 'Syntax: MAIL FROM:<address>'),
    syntax: reply(501, Enhanced.badSenderSyntax, 'Bad sender address syntax'),
    localTooLong: reply(501, Enhanced.badSenderSyntax, 'Sender local part too long'),
    domainTooLong: reply(501, Enhanced.badSenderSyntax, 'Sender domain too long'),
    pathTooLong: reply(501, Enhanced.badSenderSyntax, 'Path too long'),
    needsUtf8: reply(553, Enhanced.smtputf8Required, 'Non-ASCII sender address requires SMTPUTF8'),
  },
  rcpt: {
    usage: reply(501, Enhanced.invalidArguments, 'Syntax: RCPT TO:<address>'),
    syntax: reply(501, Enhanced.badDestinationSyntax, 'Bad recipient address syntax'),
    localTooLong: reply(501, Enhanced.badDestinationSyntax, 'Recipient local part too long'),
    domainTooLong: reply(501, Enhanced.badDestinationSyntax, 'Recipient domain too long'),
    pathTooLong: reply(501, Enhanced.badDestinationSyntax, 'Path too long'),
    needsUtf8: reply(553, Enhanced.smtputf8Required, 'Non-ASCII recipient address requires SMTPUTF8'),
  },
} as const satisfies Record<PathRole, Record<PathFault, Reply>>;

/** RFC 5321 §4.5.3.1.1–3. */
const limits = { localOctets: 64, domainOctets: 255, pathOctets: 256 } as const;

// atext of RFC 5322 §3.2.3, widened by RFC 6531 §3.3 to any non-ASCII character.
const atext = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u0080-\\uffff";
const dotString = new RegExp(`^[${atext}]+(?:\\.[${atext}]+)*$`);
// Quoted-string: qtextSMTP (widened likewise) or quoted-pairSMTP (backslash and printable ASCII).
const quotedString = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*"/;
const controls = /[\x00-\x1f\x7f]/;
const loneSurrogate = /\p{Cs}/u;
const nonAscii = /[^\x00-\x7f]/;

/** Split the argument after `MAIL FROM:` / `RCPT TO:` into the path and the parameters. */
export function splitPathAndParams(arg: string): SplitPath {
  // Many clients send `MAIL FROM: <…>`; a space or tab there is tolerated, nothing else.
  let start = 0;
  while (arg[start] === ' ' || arg[start] === '\t') start += 1;
  if (arg[start] !== '<') return splitAtSpace(arg, start, start);

  // Scan to the `>` that closes the path, skipping quoted strings and address literals,
  // which may both contain `>`.
  let i = start + 1;
  let inQuote = false;
  let inLiteral = false;
  for (; i < arg.length; i += 1) {
    const ch = arg[i];
    if (inQuote) {
      if (ch === '\\') i += 1;
      else if (ch === '"') inQuote = false;
    } else if (inLiteral) {
      if (ch === ']') inLiteral = false;
    } else if (ch === '"') {
      inQuote = true;
    } else if (ch === '[') {
      inLiteral = true;
    } else if (ch === '>') {
      break;
    }
  }

  // Unclosed: the whole argument is the (bad) path. Parameters follow a space (RFC 5321
  // §4.1.1.2), so anything glued to the `>` stays with the path, for the path parser to refuse.
  if (i >= arg.length) return { path: arg.slice(start), params: '' };
  return splitAtSpace(arg, start, i + 1);
}

/** Cut at the first space at or after `from`: path before it, parameters after the spaces. */
function splitAtSpace(arg: string, start: number, from: number): SplitPath {
  const space = arg.indexOf(' ', from);
  if (space < 0) return { path: arg.slice(start), params: '' };
  let rest = space;
  while (arg[rest] === ' ') rest += 1;
  return { path: arg.slice(start, space), params: arg.slice(rest) };
}

/** Parse the path of MAIL FROM: a mailbox, or null for the null reverse-path `<>`. */
export function parseReversePath(text: string, options: PathOptions): Parsed<Address | null> {
  return parsePath(text, 'mail', options);
}

/** Parse the path of RCPT TO: a mailbox, or `<Postmaster>` (any case) with domain ''. */
export function parseForwardPath(text: string, options: PathOptions): Parsed<Address | null> {
  return parsePath(text, 'rcpt', options);
}

// The everyday path, `<dot-atom@host.name>` in ASCII: the full grammar below would accept it
// too, with the same result, at several times the cost.
const atextAscii = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~";
const ldh = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const plainPath = new RegExp(`^<([${atextAscii}]+(?:\\.[${atextAscii}]+)*)@(${ldh}(?:\\.${ldh})*)>$`);
const noRoute: readonly string[] = Object.freeze([]);

/** Shared path parser: grammar, then SMTPUTF8, then lengths. */
function parsePath(text: string, role: PathRole, options: PathOptions): Parsed<Address | null> {
  const plain = plainPath.exec(text);
  // ASCII only, so characters are octets.
  if (plain && plain[1]!.length <= limits.localOctets && plain[2]!.length <= limits.domainOctets && text.length <= limits.pathOctets) {
    const local = plain[1]!;
    return ok({ local, localValue: local, domain: plain[2]!, literal: null, route: noRoute, utf8: false });
  }
  const replies = pathReplies[role];

  // Shape: a path is bracketed; control characters and broken UTF-16 are never valid.
  if (!text.startsWith('<')) return fail(replies.usage);
  if (text.length < 2 || !text.endsWith('>')) return fail(replies.syntax);
  if (controls.test(text) || loneSurrogate.test(text)) return fail(replies.syntax);
  const inner = text.slice(1, -1);

  // The null path, and the bare postmaster of RCPT (RFC 5321 §4.1.1.3).
  if (inner === '') return role === 'mail' ? ok(null) : fail(replies.syntax);
  if (role === 'rcpt' && inner.toLowerCase() === 'postmaster') {
    return ok({ local: 'Postmaster', localValue: 'Postmaster', domain: '', literal: null, route: [], utf8: false });
  }

  // Grammar.
  const address = parseMailboxWithRoute(inner);
  if (!address) return fail(replies.syntax);

  // SMTPUTF8 (RFC 6531 §3.7.4.1).
  if (address.utf8 && !options.smtputf8) return fail(replies.needsUtf8);

  // Lengths (RFC 5321 §4.5.3.1), in octets.
  if (octets(address.local) > limits.localOctets) return fail(replies.localTooLong);
  // Only a U-label domain changes length on the way to its A-label form.
  if (octets(address.domain) > limits.domainOctets || (address.utf8 && asciiDomain(address.domain).length > limits.domainOctets)) {
    return fail(replies.domainTooLong);
  }
  if (octets(text) > limits.pathOctets) return fail(replies.pathTooLong);
  return ok(address);
}

/** `[A-d-l ":"] Mailbox`, the text between the angle brackets; null when it breaks the grammar. */
function parseMailboxWithRoute(inner: string): Address | null {
  // Source route: `@hop1,@hop2:` (A-d-l). A hop is a Domain, which holds no `:`, so the first
  // colon ends the route.
  let route: string[] = [];
  let mailbox = inner;
  if (inner.startsWith('@')) {
    const colon = inner.indexOf(':');
    if (colon < 0) return null;
    route = inner.slice(0, colon).split(',').map((hop) => (hop.startsWith('@') ? hop.slice(1) : ''));
    if (!route.every(isDomain)) return null;
    mailbox = inner.slice(colon + 1);
  }

  // Local part: a Quoted-string, or a Dot-string up to the first `@`.
  let local: string;
  let localValue: string;
  if (mailbox.startsWith('"')) {
    const quoted = quotedString.exec(mailbox);
    if (!quoted) return null;
    local = quoted[0];
    localValue = local.slice(1, -1).replace(/\\(.)/g, '$1');
  } else {
    const at = mailbox.indexOf('@');
    local = at < 0 ? mailbox : mailbox.slice(0, at);
    if (!dotString.test(local)) return null;
    localValue = local;
  }

  // Domain or address literal: everything after the `@`.
  if (mailbox[local.length] !== '@') return null;
  const domain = mailbox.slice(local.length + 1);
  let literal: AddressLiteral | null = null;
  if (domain.startsWith('[')) {
    if (!domain.endsWith(']')) return null;
    literal = parseAddressLiteral(domain.slice(1, -1));
    if (!literal) return null;
  } else if (!isDomain(domain)) {
    return null;
  }

  return { local, localValue, domain, literal, route, utf8: nonAscii.test(inner) };
}

/** `local@domain` in canonical wire form: the local part quoted only when it must be. */
export function formatAddress(addr: Address): string {
  const local = formatLocalPart(addr.localValue);
  return addr.domain === '' ? local : `${local}@${addr.domain}`;
}

/** `<local@domain>`, or `<>` for the null reverse-path. Source routes are dropped (appendix C). */
export function formatPath(addr: Address | null): string {
  return addr === null ? '<>' : `<${formatAddress(addr)}>`;
}

/** A local part as a Dot-string when it is one, otherwise as a minimally escaped Quoted-string. */
function formatLocalPart(value: string): string {
  if (dotString.test(value)) return value;
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

/** The domain for comparison and DNS: lower-cased, U-labels as A-labels; literals unchanged. */
export function asciiDomain(domain: string): string {
  if (domain.startsWith('[')) return domain;
  // Label by label: given a whole name, the URL host parser would read `127.1` as an IPv4 address.
  return domain
    .split('.')
    .map((label) => (nonAscii.test(label) ? domainToASCII(label) || label.toLowerCase() : label.toLowerCase()))
    .join('.');
}

/** A key under which two spellings of one mailbox compare equal. */
export function addressKey(addr: Address): string {
  // Local parts are case-sensitive (RFC 5321 §2.4), so only the quoting is normalised.
  const local = formatLocalPart(addr.localValue);
  return addr.domain === '' ? local : `${local}@${asciiDomain(addr.domain)}`;
}

/** Length in UTF-8 octets. */
function octets(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
