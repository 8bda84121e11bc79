/**
 * Verdicts: what an application hook answers. Policy returns a verdict; only the session
 * turns it into a reply on the wire.
 */
import type { EnhancedCode } from '../reply/codes.js';
import { type Reply, reply } from '../reply/reply.js';

export type Verdict =
  | { readonly kind: 'accept'; readonly reply: Reply | null }
  | { readonly kind: 'reject'; readonly reply: Reply }
  | { readonly kind: 'defer'; readonly reply: Reply }
  | { readonly kind: 'disconnect'; readonly reply: Reply };

type PermanentCode = 500 | 501 | 502 | 503 | 504 | 521 | 530 | 534 | 535 | 538 | 550 | 551 | 552 | 553 | 554 | 555 | 556;
type TransientCode = 421 | 432 | 450 | 451 | 452 | 454 | 453 | 455 | 458 | 459;
type SuccessCode = 250 | 251 | 252 | 253;

/** Go ahead; an optional text (and code) replaces the default positive reply. */
export function accept(text?: string, code: SuccessCode = 250, enhanced: EnhancedCode = '2.0.0'): Verdict {
  return { kind: 'accept', reply: text === undefined ? null : reply(code, enhanced, text) };
}

/** Refuse permanently (5xx). */
export function reject(code: PermanentCode, enhanced: EnhancedCode, text: string): Verdict {
  return { kind: 'reject', reply: reply(code, enhanced, text) };
}

/** Refuse for now (4xx): the client should try again later. */
export function defer(code: TransientCode, enhanced: EnhancedCode, text: string): Verdict {
  return { kind: 'defer', reply: reply(code, enhanced, text) };
}

/** Answer, then close the connection (usually 421 or 554). */
export function disconnect(code: 421 | 554 | 521, enhanced: EnhancedCode, text: string): Verdict {
  return { kind: 'disconnect', reply: reply(code, enhanced, text) };
}

/** What a hook may return: a verdict, or nothing for "accept". */
export type HookResult = Verdict | undefined | void;
