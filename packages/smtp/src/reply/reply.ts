/**
 * The Reply value shared by server and client, its constructors and its classification.
 *
 * A reply is data: a code, an optional enhanced status code and one or more text lines.
 * Only the server session turns it into bytes (see `format.ts`).
 */
import { type EnhancedCode, type ReplyCode, replyClass } from './codes.js';

export interface Reply {
  /** Three-digit basic code. Typed as number because a client may read any code off the wire. */
  readonly code: number;
  /** RFC 3463 code, or null where none is sent (greeting, EHLO, 334, 354) or none was received. */
  readonly enhanced: string | null;
  /** Text lines, without the code prefixes. Never empty. */
  readonly lines: readonly string[];
}

/** Build a reply the server may send. */
export function reply(code: ReplyCode, enhanced: EnhancedCode | null, text: string | readonly string[]): Reply {
  const lines = typeof text === 'string' ? [text] : text.length > 0 ? [...text] : [''];
  return { code, enhanced, lines };
}

/** 2xx. */
export function isPositive(r: Reply): boolean {
  return replyClass(r.code) === 2;
}

/** 3xx: the peer waits for more (354 data, 334 SASL challenge). */
export function isIntermediate(r: Reply): boolean {
  return replyClass(r.code) === 3;
}

/** 4xx: try again later. */
export function isTransient(r: Reply): boolean {
  return replyClass(r.code) === 4;
}

/** 5xx: do not retry. */
export function isPermanent(r: Reply): boolean {
  return replyClass(r.code) === 5;
}

/** One-line rendering for logs and error messages: `550 5.1.1 No such user`. */
export function describeReply(r: Reply): string {
  const head = r.enhanced ? `${r.code} ${r.enhanced}` : String(r.code);
  return `${head} ${r.lines.join(' / ')}`.trimEnd();
}
