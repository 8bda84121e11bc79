/**
 * The header block of an RFC 5322 message, handled as bytes.
 *
 * Reads a message as a Buffer or as a stream of Buffers; emits the header block, its fields and
 * the untouched remainder. Nothing here decodes or rewrites a body: every split is a cut at a
 * byte offset, so `header + body` is always byte-identical to the input, 8-bit and binary
 * content included.
 *
 * Where the header block ends. The block is the leading run of header-field lines (a name of
 * printable ASCII other than `:`, optional obsolete WSP, then `:`) and their continuation lines
 * (starting with SP or HT). It ends before the first line that is neither: normally the empty
 * separator line, but also a line that is not a field (a message with no header at all, or a
 * malformed one), as Postfix's cleanup does. A message with no separator is all header. Lines
 * end at LF; the CR before it belongs to the terminator. Mailway's server only accepts CRLF,
 * and tolerating a bare LF here keeps the cut right for locally produced files.
 *
 * The separator line belongs to the body: `body` starts with the empty line (`\r\n`) when the
 * message has one, so fields can be appended at `header.length` and prepended at 0 without
 * touching it.
 */
import { maxLineLength } from './syntax.js';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** RFC 5322 ftext: printable US-ASCII other than colon. */
const ftext = new Uint8Array(256);
for (let b = 33; b <= 126; b += 1) if (b !== COLON) ftext[b] = 1;

/** Where a scan stopped: the end of the header block, or the line start to resume from with more bytes. */
type Scan = { readonly done: true; readonly end: number } | { readonly done: false; readonly resume: number };

/** Scan lines from the line start `from`; `final` says no more bytes will follow `buf`. */
function scanHeaderBlock(buf: Uint8Array, from: number, final: boolean): Scan {
  const n = buf.length;
  let p = from;
  while (p < n) {
    const first = buf[p] ?? 0;

    // The empty separator line, or a line starting with CR: the body starts here either way.
    if (first === LF || first === CR) return { done: true, end: p };

    // A continuation line extends the field above it; the first line of a message cannot be one.
    if (first === SP || first === HT) {
      if (p === 0) return { done: true, end: 0 };
      const lf = buf.indexOf(LF, p);
      if (lf < 0) return final ? { done: true, end: n } : { done: false, resume: p };
      p = lf + 1;
      continue;
    }

    // A field line: ftext name, optional WSP, colon. Undecided when the bytes run out first.
    let q = p;
    while (q < n && ftext[buf[q] ?? 0] === 1) q += 1;
    while (q < n && q > p && (buf[q] === SP || buf[q] === HT)) q += 1;
    if (q === n) return final ? { done: true, end: p } : { done: false, resume: p };
    if (q === p || buf[q] !== COLON) return { done: true, end: p };
    const lf = buf.indexOf(LF, q + 1);
    if (lf < 0) return final ? { done: true, end: n } : { done: false, resume: p };
    p = lf + 1;
  }
  return final ? { done: true, end: n } : { done: false, resume: p };
}

/** Offset at which the header block of `message` ends: the length of its header, final line terminator included. */
export function headerBlockEnd(message: Uint8Array): number {
  const scan = scanHeaderBlock(message, 0, true);
  return scan.done ? scan.end : message.length;
}

/** A message cut in two at the end of its header block. Both are views into the input. */
export interface HeaderSplit {
  /** Header fields with their line terminators; empty when the message has no header. */
  readonly header: Buffer;
  /** Everything after: the separator line (when present), then the body; empty when there is neither. */
  readonly body: Buffer;
}

/** Cut `message` at the end of its header block; `concat([header, body])` equals the input byte for byte. */
export function splitHeaderBlock(message: Buffer): HeaderSplit {
  const end = headerBlockEnd(message);
  return { header: message.subarray(0, end), body: message.subarray(end) };
}

/** Byte offsets of one field inside a header block. */
interface FieldSpan {
  readonly start: number;
  /** End of the name, before any obsolete WSP and the colon. */
  readonly nameEnd: number;
  readonly colon: number;
  /** After the last line terminator of the field (or the end of the block). */
  readonly end: number;
}

/** Offsets of every field in the header block at the start of `buf`. */
function fieldSpans(buf: Uint8Array): FieldSpan[] {
  const blockEnd = headerBlockEnd(buf);
  const spans: FieldSpan[] = [];
  let p = 0;
  while (p < blockEnd) {
    // The name (the scan above guarantees each line here is a field or a continuation of one).
    const start = p;
    let nameEnd = p;
    while (ftext[buf[nameEnd] ?? 0] === 1) nameEnd += 1;
    const colon = buf.indexOf(COLON, nameEnd);

    // The field runs on through its continuation lines.
    let end = blockEnd;
    let lf = buf.indexOf(LF, colon + 1);
    while (lf >= 0 && lf + 1 < blockEnd) {
      const next = buf[lf + 1];
      if (next !== SP && next !== HT) {
        end = lf + 1;
        break;
      }
      lf = buf.indexOf(LF, lf + 1);
    }
    spans.push({ start, nameEnd, colon, end });
    p = end;
  }
  return spans;
}

/** One header field as read from a message. */
export interface HeaderField {
  /** The name as written (ASCII by definition), without the colon: `Message-ID`. */
  readonly name: string;
  /**
   * The value unfolded (RFC 5322 §2.2.3: each line break followed by WSP removed), without the
   * line terminator and with surrounding WSP trimmed, decoded as the `encoding` option says.
   */
  readonly value: string;
  /** The exact bytes of the field, continuation lines and final line terminator included; a view into the input. */
  readonly raw: Buffer;
}

/** How field values are decoded. */
export interface ReadHeaderFieldsOptions {
  /**
   * `utf8` (default) reads RFC 6532 internationalised values as text; a malformed byte becomes
   * U+FFFD. `latin1` maps each byte to one character and so round-trips any bytes exactly.
   * `raw` always keeps the original bytes.
   */
  readonly encoding?: 'utf8' | 'latin1';
}

/** The fields of the header block at the start of `message` (a header block or a whole message), in order. */
export function readHeaderFields(message: Buffer, options: ReadHeaderFieldsOptions = {}): HeaderField[] {
  const encoding = options.encoding ?? 'utf8';
  return fieldSpans(message).map((span) => {
    const raw = message.subarray(span.start, span.end);
    const value = message
      .toString(encoding, span.colon + 1, span.end)
      .replace(/\r?\n(?=[ \t])/g, '')
      .replace(/^[ \t]+|[ \t]*\r?\n?$/g, '');
    return { name: message.toString('latin1', span.start, span.nameEnd), value, raw };
  });
}

/** True when the header block at the start of `message` has a field called `name`, compared case-insensitively. */
export function hasHeader(message: Uint8Array, name: string): boolean {
  const wanted = Buffer.from(name.toLowerCase(), 'latin1');
  return fieldSpans(message).some((span) => isNamed(message, span, wanted));
}

/** How many fields called `name` (compared case-insensitively) the header block at the start of `message` has. */
export function countHeader(message: Uint8Array, name: string): number {
  const wanted = Buffer.from(name.toLowerCase(), 'latin1');
  return fieldSpans(message).filter((span) => isNamed(message, span, wanted)).length;
}

/** True when the field at `span` is called `wanted` (lower-case bytes). */
function isNamed(message: Uint8Array, span: FieldSpan, wanted: Buffer): boolean {
  if (span.nameEnd - span.start !== wanted.length) return false;
  for (let i = 0; i < wanted.length; i += 1) {
    const b = message[span.start + i] ?? 0;
    // ASCII lower-casing: field names are ASCII by definition.
    if ((b >= 0x41 && b <= 0x5a ? b | 0x20 : b) !== wanted[i]) return false;
  }
  return true;
}

/** The header block grew past the limit before it ended. */
export class HeaderTooLargeError extends Error {
  readonly code = 'HEADER_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`message header block exceeds ${limit} bytes`);
    this.name = 'HeaderTooLargeError';
  }
}

/** Options of readHeaderBlock. */
export interface ReadHeaderBlockOptions {
  /** Largest header block accepted, in bytes; beyond it the read fails with HeaderTooLargeError. */
  readonly maxHeaderBytes: number;
}

/** A streamed message cut at the end of its header block. */
export interface StreamedHeaderSplit {
  /** The header block, byte-identical to `splitHeaderBlock(whole).header`. */
  readonly header: Buffer;
  /** The remaining bytes, passed through as they arrive; iterate it once. */
  readonly rest: AsyncIterable<Buffer>;
}

/**
 * Read the header block off a streamed message, buffering only the header (plus the chunk it
 * ends in), and hand back the remainder as a stream.
 *
 * The source is consumed through one iterator: either `rest` drains it, or leaving `rest` early
 * (break, throw) returns the source iterator, as `for await` would. On HeaderTooLargeError the
 * source iterator is returned as well.
 */
export async function readHeaderBlock(source: AsyncIterable<Uint8Array>, options: ReadHeaderBlockOptions): Promise<StreamedHeaderSplit> {
  const limit = options.maxHeaderBytes;
  const iterator = source[Symbol.asyncIterator]();
  let acc: Buffer = Buffer.alloc(0);
  let length = 0;
  let resume = 0;

  try {
    for (;;) {
      const step = await iterator.next();
      const final = step.done === true;

      // Append the chunk. The first one is used in place, so the common case copies nothing.
      if (!final && step.value.length > 0) {
        const chunk = asBuffer(step.value);
        if (length === 0) {
          acc = chunk;
        } else {
          if (length + chunk.length > acc.length) acc = grow(acc, length, length + chunk.length);
          chunk.copy(acc, length);
        }
        length += chunk.length;
      } else if (!final) {
        continue;
      }

      // Look for the end from the last incomplete line.
      const view = acc.subarray(0, length);
      const scan = scanHeaderBlock(view, resume, final);
      if (scan.done) {
        if (scan.end > limit) throw new HeaderTooLargeError(limit);
        const leftover = view.subarray(scan.end);
        return { header: view.subarray(0, scan.end), rest: passRest(leftover, final ? null : iterator) };
      }
      if (length > limit) throw new HeaderTooLargeError(limit);
      resume = scan.resume;
    }
  } catch (error) {
    await iterator.return?.();
    throw error;
  }
}

/** The message again from a streamed split: the header block, then the rest as it arrives. */
export async function* joinHeaderBlock(split: StreamedHeaderSplit): AsyncGenerator<Buffer, void, undefined> {
  if (split.header.length > 0) yield split.header;
  yield* split.rest;
}

/** A fresh buffer of at least `needed` bytes holding the first `length` bytes of `acc`. */
function grow(acc: Buffer, length: number, needed: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(needed, acc.length * 2, 4096));
  acc.copy(next, 0, 0, length);
  return next;
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Yield `first`, then whatever the source iterator still has; return the iterator if left early. */
async function* passRest(first: Buffer, iterator: AsyncIterator<Uint8Array> | null): AsyncGenerator<Buffer, void, undefined> {
  let drained = iterator === null;
  try {
    if (first.length > 0) yield first;
    while (iterator !== null) {
      const step = await iterator.next();
      if (step.done === true) {
        drained = true;
        return;
      }
      if (step.value.length > 0) yield asBuffer(step.value);
    }
  } finally {
    if (!drained) await iterator?.return?.();
  }
}

/**
 * Header fields as wire bytes, each ending CRLF (added when missing). Throws on anything that
 * is not a well-formed field: a bad name, a CR or LF other than CRLF before WSP (folding), or a
 * line over 998 octets. Text is encoded as UTF-8.
 */
export function encodeFields(fields: readonly string[]): Buffer {
  let text = '';
  for (const field of fields) {
    // Sanity checks.
    const line = field.endsWith('\r\n') ? field.slice(0, -2) : field;
    if (!/^[!-9;-~]+[ \t]*:/.test(line)) throw new TypeError(`not a header field: ${JSON.stringify(field.slice(0, 40))}`);
    if (/\r(?!\n[ \t])|(?<!\r)\n/.test(line)) throw new TypeError(`header field has a bare CR or LF: ${JSON.stringify(field.slice(0, 40))}`);
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(line)) throw new TypeError(`header field has a control character: ${JSON.stringify(field.slice(0, 40))}`);
    for (const physical of line.split('\r\n')) {
      if (Buffer.byteLength(physical) > maxLineLength) throw new RangeError(`header field line exceeds ${maxLineLength} octets`);
    }
    text += `${line}\r\n`;
  }
  return Buffer.from(text, 'utf8');
}

/** The message from `source` with `fields` in front: the field lines (each ending CRLF) as one chunk, then the source chunks unchanged. */
export function prependFields(fields: readonly string[], source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterable<Buffer> {
  // Validate now, so a bad field fails at the call rather than mid-stream.
  const head = encodeFields(fields);
  return (async function* prepended(): AsyncGenerator<Buffer, void, undefined> {
    if (head.length > 0) yield head;
    for await (const chunk of source) {
      if (chunk.length > 0) yield asBuffer(chunk);
    }
  })();
}
