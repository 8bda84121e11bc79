/**
 * Turns a Reply into wire bytes: `code-text` continuation lines and a final `code text`
 * line, each prefixed with the enhanced status code when the reply has one (RFC 2034 §3).
 */
import type { Reply } from './reply.js';

export function formatReply(r: Reply): string {
  const last = r.lines.length - 1;
  let out = '';
  for (let i = 0; i <= last; i += 1) {
    // A reply text must never carry a line break of its own: it would forge a second reply.
    let text = r.lines[i] ?? '';
    if (text.includes('\r') || text.includes('\n')) text = text.replace(/[\r\n]+/g, ' ');
    const body = r.enhanced ? (text ? `${r.enhanced} ${text}` : r.enhanced) : text;
    out += `${r.code}${i === last ? ' ' : '-'}${body}\r\n`;
  }
  return out;
}
