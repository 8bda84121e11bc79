/**
 * mboxrd quoting, streamed: every line matching `>*From ` gets one more '>' in front, so a
 * reader that strips one '>' from such lines gets the message back byte for byte. Chunks may
 * split a line anywhere; the undecided start of a line waits for the next chunk.
 */

const from = Buffer.from('From ');
const gt = Buffer.from('>');

/** A streaming quoter: push() each chunk, then end(). */
export class FromQuoter {
  private carry: Buffer = Buffer.alloc(0);
  private lineStart = true;
  /** The last byte passed through, to end the message with a newline. */
  last = -1;

  /** The quoted bytes of `chunk` that can be emitted now. */
  push(chunk: Uint8Array): Buffer[] {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.carry = Buffer.alloc(0);
    const out: Buffer[] = [];
    for (let pos = 0; pos < data.length; ) {
      if (this.lineStart) {
        const verdict = fromLineAt(data, pos);
        if (verdict === null) {
          this.carry = Buffer.from(data.subarray(pos));
          break;
        }
        if (verdict) out.push(gt);
      }
      const newline = data.indexOf(0x0a, pos);
      const end = newline === -1 ? data.length : newline + 1;
      out.push(data.subarray(pos, end));
      this.last = data[end - 1]!;
      this.lineStart = newline !== -1;
      pos = end;
    }
    return out;
  }

  /** What is left at the end of the message (a short last line is never a From_ line). */
  end(): Buffer[] {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    if (rest.length > 0) this.last = rest[rest.length - 1]!;
    return rest.length > 0 ? [rest] : [];
  }
}

/** Does the line at `pos` match `>*From `? null when the data ends before that is known. */
function fromLineAt(data: Buffer, pos: number): boolean | null {
  let i = pos;
  while (i < data.length && data[i] === 0x3e) i += 1;
  for (let j = 0; j < from.length; j += 1, i += 1) {
    if (i >= data.length) return null;
    if (data[i] !== from[j]) return false;
  }
  return true;
}

/** The From_ line's date: asctime() in UTC, e.g. `Thu Jan  1 00:00:00 1970`. */
export function asctime(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ${time} ${date.getUTCFullYear()}`;
}

/** The From_ line for `sender` ('' is the null sender), ending LF. */
export function fromLine(sender: string, date: Date): Buffer {
  const clean = sender.replace(/[\s\x00-\x1f\x7f]/g, '_');
  return Buffer.from(`From ${clean === '' ? 'MAILER-DAEMON' : clean} ${asctime(date)}\n`, 'utf8');
}
