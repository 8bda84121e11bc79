/**
 * One pass over a command line in raw input: where it ends, how many CRs it holds, and
 * whether any octet is non-ASCII. Command lines are a few dozen octets, where a JS loop
 * costs less than the native calls (indexOf twice, isUtf8) it replaces.
 */

const CR = 0x0d;
const LF = 0x0a;

export class LineScan {
  /** Offset of the line's LF in the input, or -1 when the input holds no whole line. */
  lf = -1;
  /** CR octets before the LF (exactly one, the last, in a well-formed line). */
  crs = 0;
  /** Some octet before the LF is above 0x7f (the line must be checked as UTF-8). */
  nonAscii = false;

  /** Scans `input` from `start` to its first LF. */
  scan(input: Buffer, start: number): void {
    const n = input.length;
    let crs = 0;
    let bits = 0;
    let i = start;
    for (; i < n; i += 1) {
      const octet = input[i]!;
      if (octet === LF) break;
      if (octet === CR) crs += 1;
      bits |= octet;
    }
    this.lf = i < n ? i : -1;
    this.crs = crs;
    this.nonAscii = bits > 0x7f;
  }
}
