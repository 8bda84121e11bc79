/**
 * The outcome of parsing one piece of a MAIL or RCPT command.
 *
 * Reads nothing; emits either the parsed value or the exact reply the session should send.
 * Parsers never write to the wire themselves.
 */
import type { Reply } from '../reply/reply.js';

/** A parsed value, or the reply that refuses the input. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reply: Reply };

/** Wrap a parsed value. */
export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

/** Wrap a refusal. */
export function fail(reply: Reply): { readonly ok: false; readonly reply: Reply } {
  return { ok: false, reply };
}
