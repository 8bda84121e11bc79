/**
 * The server's service extensions, read from its EHLO/LHLO reply (RFC 5321 §4.1.1.1).
 *
 * Reads: the reply lines after the first (the first is the server's name and greeting).
 * Emits: `Extensions`, a keyword map plus typed flags for the extensions the client uses.
 */
import type { Reply } from '../reply/reply.js';

export interface Extensions {
  /** Every keyword, upper case, with its parameters as sent. */
  readonly keywords: ReadonlyMap<string, readonly string[]>;
  /** SIZE (RFC 1870): the limit in octets, 0 for "no fixed limit", null when not offered. */
  readonly size: number | null;
  readonly pipelining: boolean;
  readonly eightBitMime: boolean;
  readonly smtpUtf8: boolean;
  readonly enhancedStatusCodes: boolean;
  readonly dsn: boolean;
  readonly chunking: boolean;
  readonly binaryMime: boolean;
  readonly startTls: boolean;
  readonly requireTls: boolean;
  /** AUTH mechanisms, upper case (also from the pre-standard `AUTH=` form). */
  readonly auth: readonly string[];
}

/** What a server answering HELO (no extensions at all) offers. */
export const noExtensions: Extensions = parseExtensions(null);

/** Read the extension list from an EHLO/LHLO reply; null for HELO. */
export function parseExtensions(reply: Reply | null): Extensions {
  // Keywords.
  const keywords = new Map<string, string[]>();
  for (const line of reply?.lines.slice(1) ?? []) {
    const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
    const first = words[0];
    if (!first) continue;
    let keyword = first.toUpperCase();
    let params = words.slice(1);
    if (keyword.startsWith('AUTH=')) {
      // Old servers: `AUTH=LOGIN PLAIN`.
      params = [keyword.slice(5), ...params];
      keyword = 'AUTH';
    }
    const known = keywords.get(keyword) ?? [];
    keywords.set(keyword, [...known, ...params]);
  }

  // Typed view.
  const sizeParam = keywords.get('SIZE');
  const sizeValue = sizeParam?.[0];
  const size = sizeParam === undefined ? null : sizeValue !== undefined && /^\d+$/.test(sizeValue) ? Number(sizeValue) : 0;
  const auth = [...new Set((keywords.get('AUTH') ?? []).filter((m) => m.length > 0).map((m) => m.toUpperCase()))];
  return {
    keywords,
    size,
    pipelining: keywords.has('PIPELINING'),
    eightBitMime: keywords.has('8BITMIME'),
    smtpUtf8: keywords.has('SMTPUTF8'),
    enhancedStatusCodes: keywords.has('ENHANCEDSTATUSCODES'),
    dsn: keywords.has('DSN'),
    chunking: keywords.has('CHUNKING'),
    binaryMime: keywords.has('BINARYMIME'),
    startTls: keywords.has('STARTTLS'),
    requireTls: keywords.has('REQUIRETLS'),
    auth,
  };
}
