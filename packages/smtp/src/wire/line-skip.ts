/**
 * Skips plain line breaks in message data, so that the DATA reader looks only where something
 * happens: a line that starts with a dot, a bare CR or LF, a CR at the end of the input.
 *
 * Reads: a chunk and an offset in it. Emits: the first offset from there that holds a CR or LF
 * and is not a plain line break (CRLF followed by an octet other than '.'), or the chunk's
 * length if there is none. It may also stop at a plain line break (at the edge of its window);
 * the caller handles that one as it would any CRLF.
 *
 * A chunk of ordinary text costs one call. The work is done by line-skip.wat (WebAssembly SIMD,
 * 16 octets per step) on a copy of the chunk, kept until `release`; where WebAssembly or its
 * SIMD instructions are unavailable, by Buffer.indexOf, with the same answers.
 */
import { lineSkipModule } from './line-skip-module.js';

// The WebAssembly globals used here: TypeScript declares them in its DOM library, which this
// package does not load.
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
};

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export interface LineSkipper {
  /** The first offset at or after `from` that the reader must look at (see the module comment). */
  skip(chunk: Buffer, from: number): number;
  /** Forgets the copy of the last chunk (its octets may change once the caller lets it go). */
  release(): void;
}

/** The WebAssembly skipper, over windows of the chunk copied into the module's memory. */
export function wasmLineSkipper(): LineSkipper {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(lineSkipModule, 'base64')));
  const exports = instance.exports as { memory: { buffer: ArrayBuffer }; skip: (from: number, end: number) => number };
  const memory = new Uint8Array(exports.memory.buffer);
  const run = exports.skip;
  // The window of `loaded` now in memory: chunk offsets [base, end).
  let loaded: Buffer | null = null;
  let base = 0;
  let end = 0;

  return {
    skip(chunk, from) {
      const n = chunk.length;
      for (;;) {
        if (chunk !== loaded || from < base || from >= end) {
          if (from >= n) return n;
          loaded = chunk;
          base = from;
          end = Math.min(n, from + memory.length);
          memory.set(chunk.subarray(base, end), 0);
        }
        const at = base + run(from - base, end - base);
        // The window's end is the chunk's, or only a place to go on from.
        if (at < end || end === n) return at;
        from = at;
      }
    },
    release() {
      loaded = null;
    },
  };
}

/**
 * The same answers with Buffer.indexOf. The next CR and the next LF found are remembered until
 * passed, so each octet is searched once per chunk whatever the mix of CRs and LFs.
 */
export function indexOfLineSkipper(): LineSkipper {
  // In `chunk`, the first CR at or after `crStart` is at `cr` (-1: there is none); LF likewise.
  // A start of Infinity means nothing is known yet.
  let chunk: Buffer | null = null;
  let crStart = Infinity;
  let cr = -1;
  let lfStart = Infinity;
  let lf = -1;

  return {
    skip(data, from) {
      const n = data.length;
      if (data !== chunk) {
        chunk = data;
        crStart = lfStart = Infinity;
      }
      for (let i = from; ; ) {
        if (!(i >= crStart && (cr === -1 || i <= cr))) {
          cr = data.indexOf(CR, i);
          crStart = i;
        }
        if (!(i >= lfStart && (lf === -1 || i <= lf))) {
          lf = data.indexOf(LF, i);
          lfStart = i;
        }
        const at = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
        if (at === -1) return n;
        if (at !== cr || at + 2 >= n || data[at + 1] !== LF || data[at + 2] === DOT) return at;
        i = at + 2;
      }
    },
    release() {
      chunk = null;
    },
  };
}

/** The WebAssembly skipper where this runtime can compile it, else the indexOf one. */
function bestLineSkipper(): LineSkipper {
  try {
    return wasmLineSkipper();
  } catch {
    return indexOfLineSkipper();
  }
}

/**
 * One per process, used by readers only inside a synchronous feed. A feed started from inside
 * another reader's emit takes the skipper over; the outer feed then copies its chunk again
 * (the same answers, only slower).
 */
export const lineSkipper: LineSkipper = bestLineSkipper();
