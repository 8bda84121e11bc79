/**
 * Authentication-Results fields (RFC 8601) that claim a given authserv-id. A field naming this
 * host says this host checked the message; one that arrives from outside the trust boundary is a
 * forgery meant to make readers trust what no one checked, and §5 requires removing it before
 * the message goes on.
 *
 * Reads a header block; emits the block without those fields, every other byte unchanged.
 */
import { readHeaderFields } from './headers.js';

/** The header block without the Authentication-Results fields whose authserv-id is one of `authservIds` (case-insensitive). */
export function removeAuthResults(header: Buffer, authservIds: readonly string[]): { header: Buffer; removed: number } {
  const own = new Set(authservIds.map((id) => id.toLowerCase()));
  const fields = readHeaderFields(header, { encoding: 'latin1' });
  const claimed = fields.filter((field) => field.name.toLowerCase() === 'authentication-results' && own.has(authservIdOf(field.value)));
  if (claimed.length === 0) return { header, removed: 0 };

  // Keep the bytes between the removed fields, including the blank line that ends the block.
  const pieces: Buffer[] = [];
  let at = 0;
  for (const field of claimed) {
    const start = field.raw.byteOffset - header.byteOffset;
    pieces.push(header.subarray(at, start));
    at = start + field.raw.length;
  }
  pieces.push(header.subarray(at));
  return { header: Buffer.concat(pieces), removed: claimed.length };
}

/** The authserv-id of a field value (`id [CFWS version] ; results`), lower-cased, comments skipped. */
export function authservIdOf(value: string): string {
  const text = withoutComments(value).trim();
  const id = /^("(?:[^"\\]|\\.)*"|[^\s;]+)/.exec(text)?.[1] ?? '';
  return (id.startsWith('"') ? id.slice(1, -1).replace(/\\(.)/g, '$1') : id).toLowerCase();
}

/**
 * The text with each RFC 5322 comment (nested parentheses, quoted pairs) turned into a space:
 * a comment separates tokens, so `host(x)1` is the id `host` and the version `1`.
 */
function withoutComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '\\' && depth > 0) i += 1;
    else if (c === '(') {
      if (depth === 0) out += ' ';
      depth += 1;
    } else if (c === ')' && depth > 0) depth -= 1;
    else if (depth === 0) out += c;
  }
  return out;
}
