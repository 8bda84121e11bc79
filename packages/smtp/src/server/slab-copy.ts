/**
 * Copies of message octets, cut from 256 KiB slabs shared by all sessions.
 *
 * A session copies the message octets of a lent read (shared-reads.ts) before the onData hook
 * gets them. A fresh allocation per copy made glibc's heap grow and shrink with the traffic,
 * faulting pages in again and again: at 100 KB × 100 clients a server made 3,800-5,700 msg/s
 * with 100,000-180,000 page faults per run under glibc's defaults, and fell to that in one run
 * of five even with the bench's malloc settings. Cut from slabs, five runs gave 6,800-13,900
 * under the defaults and 9,200-14,700 with the settings, at about 22,000 faults when fast.
 *
 * A slab is freed when no copy cut from it is referenced any more, so a hook that keeps one
 * small copy keeps its whole slab, other sessions' octets included: a hook that keeps message
 * chunks for long should keep a copy of its own (Buffer.concat makes one). Only message octets
 * are copied here: they are passed on and dropped soon. Small input kept across reads (a partial
 * command line, which an idle client may leave for minutes) is copied with Buffer.from.
 *
 * Slabs cannot be transferred to a worker (postMessage with a transfer list): that would detach
 * the slab under every session still cutting copies from it.
 */
import { markAsUntransferable } from 'node:worker_threads';

const slabSize = 256 * 1024;
// Larger copies get their own allocation: few of them fit in a slab.
const largestCut = slabSize / 4;

let slab = newSlab();
let used = 0;

function newSlab(): Buffer {
  const buffer = Buffer.allocUnsafeSlow(slabSize);
  markAsUntransferable(buffer.buffer);
  return buffer;
}

/** A copy of `octets` that stays valid after the buffer they are in is reused. */
export function slabCopy(octets: Buffer): Buffer {
  const length = octets.length;
  if (length > largestCut) return Buffer.from(octets);
  if (length > slabSize - used) {
    slab = newSlab();
    used = 0;
  }
  const copy = slab.subarray(used, used + length);
  octets.copy(copy);
  // Keep each copy 8-octet aligned, as Node's own buffer pool does.
  used += (length + 7) & ~7;
  return copy;
}
