/**
 * Dot-stuffing for the DATA command (RFC 5321 §4.5.2) and the end-of-data marker.
 *
 * Reads: message bytes in chunks split anywhere (a CRLF or a line-leading dot may straddle
 * two chunks). Emits: the same bytes with every line-leading `.` doubled, and, at the end,
 * `CRLF . CRLF` — preceded by a CRLF only when the content does not already end with one.
 *
 * Line endings. DATA is a line protocol whose only line ending is CRLF. A bare LF or bare
 * CR in the content is normalised to CRLF (and the line after it is dot-stuffed like any
 * other): a lone LF followed by `.` and a line ending could otherwise be taken by a lenient
 * server as the end of data, and what follows as a new, unauthenticated command (SMTP
 * smuggling). A message with CRLF line endings, the only kind RFC 5322 allows, passes
 * through byte for byte. Bodies that must keep bare CR/LF or NUL octets (BINARYMIME) go by
 * BDAT, which carries bytes unchanged and needs no stuffing at all.
 *
 * Speed: the scan uses `Buffer.indexOf` for CR and LF; a chunk that needs no change is
 * passed on as the same Buffer, so the common case costs no copy.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

const DOT_BUF = Buffer.from('.');
const CRLF_BUF = Buffer.from('\r\n');
const LF_BUF = Buffer.from('\n');

/** The end-of-data marker after content that ends with CRLF (or is empty). */
export const DATA_END = Buffer.from('.\r\n');
/** The end-of-data marker after content that does not end with CRLF. */
export const DATA_END_WITH_CRLF = Buffer.from('\r\n.\r\n');

/** The bytes that end DATA content: `.CRLF` when it already ends with CRLF (or is empty), else `CRLF.CRLF`. */
export function dataTerminator(endsWithCrlf: boolean): Buffer {
  return endsWithCrlf ? DATA_END : DATA_END_WITH_CRLF;
}

/**
 * The stuffing state machine, synchronous and allocation-light; the Transform and the
 * client both drive it. Feed chunks to `push`, then call `end` once.
 */
export class DotStuffer {
  /** The next byte starts a line (true at the start of the content). */
  #lineStart = true;
  /** The previous chunk ended in CR; whether it was CRLF depends on the next byte. */
  #pendingCr = false;
  /** Octets emitted so far, the terminator excluded. */
  #written = 0;

  /** Stuff one chunk; returns the bytes to send (the same Buffer when nothing changed). */
  push(chunk: Buffer): Buffer {
    const len = chunk.length;
    if (len === 0) return chunk;
    const parts: Buffer[] = [];
    let seg = 0; // start of the run of input not yet copied to parts
    let i = 0;

    // A CR at the end of the last chunk: complete it as CRLF.
    if (this.#pendingCr) {
      this.#pendingCr = false;
      this.#lineStart = true;
      if (chunk[0] === LF) {
        i = 1;
      } else {
        parts.push(LF_BUF);
      }
    }

    // Walk line ends; copy runs and insert only where a change is needed.
    let nextCr = chunk.indexOf(CR, i);
    let nextLf = chunk.indexOf(LF, i);
    while (i < len) {
      if (this.#lineStart && chunk[i] === DOT) {
        parts.push(chunk.subarray(seg, i), DOT_BUF);
        seg = i;
      }
      this.#lineStart = false;
      if (nextCr !== -1 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextCr === -1 && nextLf === -1) break;

      if (nextLf !== -1 && (nextCr === -1 || nextLf < nextCr)) {
        // Bare LF: becomes CRLF.
        parts.push(chunk.subarray(seg, nextLf), CRLF_BUF);
        i = seg = nextLf + 1;
        this.#lineStart = true;
        continue;
      }
      if (nextCr + 1 === len) {
        // CR at the end of the chunk: decided by the next chunk.
        i = len;
        this.#pendingCr = true;
        break;
      }
      if (chunk[nextCr + 1] === LF) {
        i = nextCr + 2;
      } else {
        // Bare CR: becomes CRLF.
        parts.push(chunk.subarray(seg, nextCr), CRLF_BUF);
        i = seg = nextCr + 1;
      }
      this.#lineStart = true;
    }

    // Hand back the chunk itself when untouched.
    let out: Buffer;
    if (parts.length === 0) {
      out = chunk;
    } else {
      if (seg < len) parts.push(chunk.subarray(seg));
      out = Buffer.concat(parts);
    }
    this.#written += out.length;
    return out;
  }

  /** The bytes that end the data: a completed pending CR, then the end-of-data marker. */
  end(): Buffer {
    if (this.#pendingCr) {
      this.#pendingCr = false;
      this.#lineStart = true;
      this.#written += 1;
      return Buffer.concat([LF_BUF, DATA_END]);
    }
    return dataTerminator(this.#written === 0 || this.#lineStart);
  }

  /** Octets of stuffed content emitted so far, the terminator excluded. */
  get written(): number {
    return this.#written;
  }
}

/** Options for the dot-stuffing stream. */
export interface DotStuffStreamOptions {
  /** Append the end-of-data marker when the input ends (default true). */
  readonly terminate?: boolean;
}

/** A Transform (Buffer in, Buffer out) that dot-stuffs and, by default, appends `CRLF.CRLF`. */
export class DotStuffStream extends Transform {
  readonly #stuffer = new DotStuffer();
  readonly #terminate: boolean;

  constructor(options: DotStuffStreamOptions = {}) {
    // Strings reach _transform as strings, to be refused rather than silently encoded.
    super({ decodeStrings: false });
    this.#terminate = options.terminate ?? true;
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    // Strings are refused: decoding and re-encoding could alter 8-bit content.
    if (!Buffer.isBuffer(chunk)) {
      callback(new TypeError('DotStuffStream accepts Buffers only'));
      return;
    }
    const out = this.#stuffer.push(chunk);
    if (out.length > 0) this.push(out);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const tail = this.#stuffer.end();
    if (this.#terminate) {
      this.push(tail);
    } else if (tail[0] === LF) {
      // Only the LF completing a trailing CR belongs to the content.
      this.push(LF_BUF);
    }
    callback();
  }
}

/** Dot-stuff a whole message at once and append the end-of-data marker. */
export function dotStuff(message: Buffer): Buffer {
  const stuffer = new DotStuffer();
  const body = stuffer.push(message);
  return Buffer.concat([body, stuffer.end()]);
}
