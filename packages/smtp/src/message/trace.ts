/**
 * Trace fields: Received (RFC 5321 §4.4), Return-Path (RFC 5321 §4.4) and Delivered-To, and
 * the hop count read back from Received fields (RFC 5321 §6.3).
 *
 * Reads the facts of one hop (peer HELO name, IP, reverse DNS, our host name, the protocol,
 * TLS, queue id, recipient, time); emits each field as a complete string that ends CRLF, ready
 * for `prependFields`.
 *
 * Text that comes from the peer (HELO name, reverse DNS, recipient, TLS names) is never trusted
 * with the layout: a HELO name that is not a domain or address literal goes into a comment with
 * every non-printable character replaced, and an unsafe recipient or host name is left out.
 * Values Mailway supplies itself (`by`, `with`, `id`) must be well-formed or the call throws.
 * No input can put a line break into the output other than the folds made here.
 */
import { countHeader } from './headers.js';
import { formatDate } from './ids.js';
import { addressLiteral, commentText, foldWidth, isAddressLiteral, isAtom, isDomain, isLineSafe, maxLineLength } from './syntax.js';

/** RFC 5321 §4.4 / RFC 3848 / RFC 6531 WITH protocol types Mailway's servers can record. */
export const withProtocols = [
  'SMTP', 'ESMTP', 'ESMTPA', 'ESMTPS', 'ESMTPSA',
  'LMTP', 'LMTPA', 'LMTPS', 'LMTPSA',
  'UTF8SMTP', 'UTF8SMTPS', 'UTF8SMTPA', 'UTF8SMTPSA',
] as const;
export type WithProtocol = (typeof withProtocols)[number];

/** What a Received field records about one hop. */
export interface ReceivedInfo {
  /** The peer: the name it gave in HELO/EHLO, its IP address, and its verified reverse DNS name if any. */
  readonly from: { readonly helo: string; readonly ip: string; readonly rdns?: string | null };
  /** This host's name. */
  readonly by: string;
  /** The protocol spoken on this hop. */
  readonly with: WithProtocol;
  /** Queue or transaction id (an atom or a msg-id). */
  readonly id?: string;
  /** The recipient, when the message has exactly one: `user@example.org` or `<user@example.org>`. */
  readonly for?: string;
  /** The TLS session, when the hop was encrypted. */
  readonly tls?: { readonly protocol: string; readonly cipher: string } | null;
  /** When the message was received; now by default. */
  readonly date?: Date;
}

/** Longest HELO name copied into a comment, in characters. */
const maxHeloComment = 255;

/** Longest recipient recorded in a `for` clause, in octets; a longer one is left out. */
const maxForPath = 512;

/**
 * A Received field, folded between clauses so lines stay within 78 characters where possible
 * and never exceed 998:
 *
 *     Received: from mail.example.com (mail.example.com [192.0.2.1])
 *     	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)
 *     	by mx.example.org with ESMTPS id 4Xyz for <user@example.org>;
 *     	Wed, 25 Nov 2026 09:02:05 +0000
 */
export function receivedField(info: ReceivedInfo): string {
  // Values of our own: refuse anything malformed.
  if (!isDomain(info.by)) throw new TypeError(`Received: "by" is not a domain: ${JSON.stringify(info.by)}`);
  if (!(withProtocols as readonly string[]).includes(info.with)) throw new TypeError(`Received: unknown protocol ${JSON.stringify(info.with)}`);
  if (info.id !== undefined && !isQueueId(info.id)) throw new TypeError(`Received: "id" is not an atom or msg-id: ${JSON.stringify(info.id)}`);

  // The peer. A HELO name that is not a domain or literal is kept, defanged, in a comment.
  const literal = addressLiteral(info.from.ip);
  const helo = info.from.helo;
  const heloOk = isDomain(helo) || isAddressLiteral(helo);
  const rdns = info.from.rdns != null && isDomain(info.from.rdns) ? info.from.rdns : null;
  const tcpInfo = rdns === null ? literal : `${rdns} ${literal}`;
  const clauses: string[] = heloOk
    ? [`from ${helo}`, `(${tcpInfo})`]
    : [`from ${literal}`, helo === '' ? `(${tcpInfo})` : `(${tcpInfo} helo=${commentText(helo, maxHeloComment)})`];

  // The rest of the stamp: TLS comment, by, with, id, for.
  if (info.tls) {
    const protocol = tlsName(info.tls.protocol);
    const cipher = tlsName(info.tls.cipher);
    clauses.push(`(using ${protocol} with cipher ${cipher})`);
  }
  clauses.push(`by ${info.by}`, `with ${info.with}`);
  if (info.id !== undefined) clauses.push(`id ${info.id}`);
  const path = info.for === undefined ? null : forPath(info.for);
  if (path !== null) clauses.push(`for ${path}`);

  // The date follows the last semicolon.
  const lastIndex = clauses.length - 1;
  clauses[lastIndex] = `${clauses[lastIndex] ?? ''};`;
  clauses.push(formatDate(info.date ?? new Date()));
  return fold('Received:', clauses);
}

/** A Return-Path field for a reverse-path; null or empty gives the null path, `Return-Path: <>`. */
export function returnPathField(reversePath: string | null): string {
  const path = reversePath === null ? '' : stripBrackets(reversePath);
  return singleLineField('Return-Path', `<${path}>`);
}

/**
 * RFC 5321 §6.3 hop count: the Received fields in the header block at the start of `message`.
 * A message that has passed through too many hosts is probably in a loop.
 */
export function hopCount(message: Uint8Array): number {
  return countHeader(message, 'Received');
}

/** A Delivered-To field naming the mailbox a delivery agent wrote to: `Delivered-To: user@example.org`. */
export function deliveredToField(address: string): string {
  const mailbox = stripBrackets(address);
  if (mailbox === '') throw new TypeError('Delivered-To: empty address');
  return singleLineField('Delivered-To', mailbox);
}

/** `name: value` + CRLF, refusing values that could break the line or overflow it. */
function singleLineField(name: string, value: string): string {
  if (!isLineSafe(value)) throw new TypeError(`${name}: value has a control character`);
  const line = `${name}: ${value}`;
  if (Buffer.byteLength(line) > maxLineLength) throw new RangeError(`${name}: field exceeds ${maxLineLength} octets`);
  return `${line}\r\n`;
}

function stripBrackets(path: string): string {
  return path.startsWith('<') && path.endsWith('>') ? path.slice(1, -1) : path;
}

/** An RFC 5321 ID clause value: an atom, or a msg-id `<left@right>` without spaces or controls. */
function isQueueId(id: string): boolean {
  return id.length <= 200 && (isAtom(id) || /^<[!-=?-~]+@[!-=?-~]+>$/.test(id));
}

/** A recipient for the `for` clause, bracketed; null when it could break the field. */
function forPath(text: string): string | null {
  const path = stripBrackets(text);
  if (path === '' || Buffer.byteLength(path) > maxForPath || !isLineSafe(path) || /[<>]/.test(path)) return null;
  return `<${path}>`;
}

/** A TLS protocol or cipher name reduced to the characters such names use. */
function tlsName(text: string): string {
  const clean = text.replace(/[^A-Za-z0-9._+/=-]/g, '').slice(0, 100);
  return clean === '' ? 'unknown' : clean;
}

/**
 * `name` and the clauses joined by spaces, starting a new line (CRLF TAB) before a clause that
 * would carry the line past 78 characters. Clauses are never split, and each is short enough
 * to fit a line of its own within 998.
 */
function fold(name: string, clauses: readonly string[]): string {
  let out = name;
  let lineLength = name.length;
  for (const clause of clauses) {
    if (lineLength + 1 + clause.length > foldWidth && lineLength > name.length) {
      out += `\r\n\t${clause}`;
      lineLength = 1 + clause.length;
    } else {
      out += ` ${clause}`;
      lineLength += 1 + clause.length;
    }
  }
  return `${out}\r\n`;
}
