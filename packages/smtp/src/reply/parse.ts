/**
 * Incremental reply parser (RFC 5321 §4.2, RFC 2034 §3), the client's view of the wire.
 *
 * Reads: Buffer chunks as they arrive from the socket, split anywhere.
 * Emits: complete `Reply` values, one per final `code SP text` line, in wire order.
 *
 * A reply line is `code-text` (continuation) or `code text` (final); a bare `code` is
 * accepted as a final line. Each line's text loses its RFC 3463 enhanced code when the
 * line starts with one whose class matches the reply's class; lines without it keep their
 * full text. Lines end in CRLF; a bare LF is tolerated (the peer is the server, and being
 * lenient here cannot smuggle anything). Line length and lines per reply are bounded, so
 * a hostile peer cannot make the client buffer without limit.
 */
import type { Reply } from './reply.js';
import { isEnhancedCode } from './codes.js';

/** Bounds on what one reply may occupy. */
export interface ReplyParserLimits {
  /** Longest accepted line in octets, excluding CRLF. RFC 5321 §4.5.3.1.5 allows 512. */
  readonly maxLineLength: number;
  /** Most lines in one multi-line reply. */
  readonly maxLines: number;
}

export const defaultReplyParserLimits: ReplyParserLimits = { maxLineLength: 4096, maxLines: 1000 };

/** The peer broke the reply syntax; the connection can no longer be trusted. */
export class ReplyProtocolError extends Error {
  override readonly name = 'ReplyProtocolError';
}

const LF = 0x0a;
const CR = 0x0d;

/** A reply being assembled from its continuation lines. */
interface Assembling {
  code: number;
  enhanced: string | null;
  lines: string[];
}

/** Feed it chunks with `push`; it returns every reply completed by that chunk. */
export class ReplyParser {
  readonly #limits: ReplyParserLimits;
  #pending: Buffer | null = null;
  #current: Assembling | null = null;

  constructor(limits: Partial<ReplyParserLimits> = {}) {
    this.#limits = { ...defaultReplyParserLimits, ...limits };
  }

  /** Parse one chunk; throws ReplyProtocolError on malformed or oversized input. */
  push(chunk: Buffer): Reply[] {
    const out: Reply[] = [];
    const data = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    this.#pending = null;
    let start = 0;

    // One line at a time.
    for (;;) {
      const lf = data.indexOf(LF, start);
      if (lf === -1) break;
      let end = lf;
      if (end > start && data[end - 1] === CR) end -= 1;
      if (end - start > this.#limits.maxLineLength) throw new ReplyProtocolError(`reply line longer than ${this.#limits.maxLineLength} octets`);
      const done = this.#line(data.subarray(start, end));
      if (done) out.push(done);
      start = lf + 1;
    }

    // Keep the unterminated tail, within bounds.
    if (start < data.length) {
      const rest = data.subarray(start);
      if (rest.length > this.#limits.maxLineLength + 1) throw new ReplyProtocolError(`reply line longer than ${this.#limits.maxLineLength} octets`);
      this.#pending = Buffer.from(rest);
    }
    return out;
  }

  /** Octets received but not yet part of a complete reply. */
  get buffered(): number {
    return this.#pending?.length ?? 0;
  }

  /** True while a multi-line reply has started but not finished. */
  get midReply(): boolean {
    return this.#current !== null || this.#pending !== null;
  }

  /** Forget everything buffered (the STARTTLS switch); returns how many octets were dropped. */
  reset(): number {
    const dropped = this.#pending?.length ?? 0;
    this.#pending = null;
    this.#current = null;
    return dropped;
  }

  /** Parse one line without its terminator; returns the reply it completes, if any. */
  #line(line: Buffer): Reply | null {
    // Sanity checks: three digits, then SP, '-' or end of line.
    const d0 = line[0], d1 = line[1], d2 = line[2];
    if (line.length < 3 || !isDigit(d0) || !isDigit(d1) || !isDigit(d2)) {
      throw new ReplyProtocolError(`malformed reply line: ${JSON.stringify(preview(line))}`);
    }
    const code = (d0 - 48) * 100 + (d1 - 48) * 10 + (d2 - 48);
    if (code < 200 || code > 599) throw new ReplyProtocolError(`reply code ${code} out of range`);
    const sep = line[3];
    if (line.length > 3 && sep !== 0x20 && sep !== 0x2d) {
      throw new ReplyProtocolError(`malformed reply line: ${JSON.stringify(preview(line))}`);
    }
    const final = sep !== 0x2d;
    const current = this.#current;
    if (current && current.code !== code) {
      throw new ReplyProtocolError(`reply code changed from ${current.code} to ${code} within one reply`);
    }

    // Text, with the enhanced code split off when it belongs to this reply's class.
    let text = line.length > 4 ? line.toString('utf8', 4) : '';
    let enhanced: string | null = null;
    const space = text.indexOf(' ');
    const head = space === -1 ? text : text.slice(0, space);
    if (head.length >= 5 && isEnhancedCode(head) && head.charCodeAt(0) - 48 === Math.floor(code / 100)) {
      enhanced = head;
      text = space === -1 ? '' : text.slice(space + 1);
    }

    // Accumulate.
    const partial: Assembling = current ?? { code, enhanced: null, lines: [] };
    if (partial.lines.length >= this.#limits.maxLines) throw new ReplyProtocolError(`reply longer than ${this.#limits.maxLines} lines`);
    partial.lines.push(text);
    partial.enhanced ??= enhanced;
    if (!final) {
      this.#current = partial;
      return null;
    }
    this.#current = null;
    return { code: partial.code, enhanced: partial.enhanced, lines: partial.lines };
  }
}

function isDigit(b: number | undefined): b is number {
  return b !== undefined && b >= 48 && b <= 57;
}

function preview(line: Buffer): string {
  return line.toString('latin1', 0, Math.min(line.length, 80));
}
