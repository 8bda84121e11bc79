/**
 * Forged Authentication-Results fields (RFC 8601 §5): a field that names this host as its
 * authserv-id claims this host checked the message. One that arrives from outside the trust
 * boundary (a client neither authenticated nor in the relay networks) is a forgery meant to
 * make readers trust what no one checked, so it is removed before the message is queued.
 *
 * Reads a header block; emits the block without those fields, every other byte unchanged.
 */
import { readHeaderFields } from '@mailway/smtp/message';

/** The header block without the Authentication-Results fields whose authserv-id is `authservId`. */
export function withoutOwnAuthResults(header: Buffer, authservId: string): { header: Buffer; removed: number } {
  const own = authservId.toLowerCase();
  const fields = readHeaderFields(header, { encoding: 'latin1' });
  const forged = fields.filter((field) => field.name.toLowerCase() === 'authentication-results' && authservIdOf(field.value) === own);
  if (forged.length === 0) return { header, removed: 0 };

  // Keep the bytes between the forged fields, including the blank line that ends the block.
  const pieces: Buffer[] = [];
  let at = 0;
  for (const field of forged) {
    const start = field.raw.byteOffset - header.byteOffset;
    pieces.push(header.subarray(at, start));
    at = start + field.raw.length;
  }
  pieces.push(header.subarray(at));
  return { header: Buffer.concat(pieces), removed: forged.length };
}

/** The authserv-id of a field value (`id [version] ; results`), lower-cased, comments skipped. */
export function authservIdOf(value: string): string {
  const text = stripComments(value).trim();
  const id = /^("(?:[^"\\]|\\.)*"|[^\s;]+)/.exec(text)?.[1] ?? '';
  return (id.startsWith('"') ? id.slice(1, -1).replace(/\\(.)/g, '$1') : id).toLowerCase();
}

/** The text without RFC 5322 comments (nested parentheses, quoted pairs). */
function stripComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\\' && depth > 0) i += 1;
    else if (c === '(') depth += 1;
    else if (c === ')' && depth > 0) depth -= 1;
    else if (depth === 0) out += c;
  }
  return out;
}
