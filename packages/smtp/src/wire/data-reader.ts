/**
 * Reads the body of a DATA command (RFC 5321 §4.1.1.4, §4.5.2) from raw socket bytes.
 *
 * Reads: byte chunks exactly as they arrive, split anywhere.
 * Emits: the unstuffed message bytes as zero-copy slices of the input, and the offset just
 * past the end-of-data marker so the caller can go on with pipelined commands.
 *
 * Only `<CRLF>.<CRLF>` ends the data. A bare LF or a bare CR never starts a line, so no
 * smuggling variant (`\n.\n`, `\r.\r`, `\n.\r\n`, `\r\n.\n`, …) can end the data early. In
 * strict mode the first bare line ending marks the message as violating; the reader keeps
 * scanning for the real end so the session stays in step with the client.
 */

import { type LineSkipper, lineSkipper } from './line-skip.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export type LineEndingViolation = 'bare-lf' | 'bare-cr';

export interface DataReaderOptions {
  /** Unstuffed octets allowed before the message counts as oversized. */
  readonly maxBytes: number;
  /** Stop emitting after a bare CR or LF (the session then rejects the message). */
  readonly strictLineEndings: boolean;
}

export class DotDataReader {
  /** Unstuffed octets seen so far (also counted past the limit). */
  size = 0;
  /** Set when the message exceeded `maxBytes`. */
  oversized = false;
  /** The first bare CR or LF seen, if any. */
  violation: LineEndingViolation | null = null;

  // At the start of a line: the previous octets were CRLF (the DATA line's CRLF counts).
  private lineStart = true;
  // The previous chunk ended with CR, whose LF may open the next chunk.
  private prevCr = false;
  // Octets held back at a line start because they may be a prefix of ".\r\n".
  private carry: Buffer | null = null;

  /** `skipper`: the process's line skipper unless a test picks one. */
  constructor(
    private readonly options: DataReaderOptions,
    private readonly skipper: LineSkipper = lineSkipper,
  ) {}

  /**
   * Consumes `input`, passing message bytes to `emit`. Returns -1 while the data goes on,
   * otherwise the offset in `input` just past the end-of-data marker.
   */
  feed(input: Buffer, emit: (segment: Buffer) => void): number {
    try {
      return this.scan(input, emit);
    } finally {
      this.skipper.release();
    }
  }

  /** feed, with the line skipper holding a copy of the chunk until it returns. */
  private scan(input: Buffer, emit: (segment: Buffer) => void): number {
    // Join held-back octets; `shift` maps offsets in `chunk` back to `input`.
    let chunk = input;
    let shift = 0;
    if (this.carry) {
      shift = this.carry.length;
      chunk = Buffer.concat([this.carry, input]);
      this.carry = null;
    }

    const n = chunk.length;
    let segStart = 0;
    let i = 0;
    // The previous chunk ended with CR: this one must open with its LF.
    if (this.prevCr && n > 0) {
      this.prevCr = false;
      if (chunk[0] === LF) {
        this.lineStart = true;
        i = 1;
      } else {
        this.flag('bare-cr');
      }
    }
    while (i < n) {
      // Line start: end marker, or a stuffed dot to remove.
      if (this.lineStart) {
        if (chunk[i] === DOT) {
          if (i + 1 >= n || (chunk[i + 1] === CR && i + 2 >= n)) {
            this.output(chunk, segStart, i, emit);
            this.carry = Buffer.from(chunk.subarray(i));
            return -1;
          }
          if (chunk[i + 1] === CR && chunk[i + 2] === LF) {
            this.output(chunk, segStart, i, emit);
            return i + 3 - shift;
          }
          this.output(chunk, segStart, i, emit);
          segStart = i + 1;
          i += 1;
        }
        this.lineStart = false;
      }

      // Line body: past the plain line breaks to the next CR or LF that needs a look.
      const at = this.skipper.skip(chunk, i);
      if (at >= n) break;
      if (chunk[at] === CR) {
        if (at + 1 >= n) {
          this.prevCr = true;
          break;
        }
        if (chunk[at + 1] === LF) {
          this.lineStart = true;
          i = at + 2;
          continue;
        }
        this.flag('bare-cr');
        i = at + 1;
        continue;
      }
      // An LF with no CR before it: a CRLF is always taken whole, and one split between
      // chunks was taken above.
      this.flag('bare-lf');
      i = at + 1;
    }
    this.output(chunk, segStart, n, emit);
    return -1;
  }

  /** Records the first line-ending violation. */
  private flag(kind: LineEndingViolation): void {
    if (this.violation === null) this.violation = kind;
  }

  /** Emits chunk[from, to) unless the message is already rejected. */
  private output(chunk: Buffer, from: number, to: number, emit: (segment: Buffer) => void): void {
    if (to <= from) return;
    this.size += to - from;
    if (this.size > this.options.maxBytes) this.oversized = true;
    if (this.oversized || (this.violation !== null && this.options.strictLineEndings)) return;
    emit(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
  }
}

/**
 * Reads the octets of one BDAT chunk (RFC 3030): exactly `length` bytes, binary-clean,
 * with no dot-stuffing and no end marker.
 */
export class ChunkReader {
  private remaining: number;

  constructor(length: number) {
    this.remaining = length;
  }

  /** True once the whole chunk has been read. */
  get done(): boolean {
    return this.remaining === 0;
  }

  /** Consumes up to the chunk's remaining length; returns how many octets of `input` it took. */
  feed(input: Buffer, emit: (segment: Buffer) => void): number {
    const take = Math.min(this.remaining, input.length);
    if (take > 0) emit(take === input.length ? input : input.subarray(0, take));
    this.remaining -= take;
    return take;
  }
}
