/**
 * Watches one Maildir's new/ folder during a bench: when each message arrived, and what it carries.
 *
 * Reads the folder (inotify through fs.watch, readdir counts, the files themselves); emits
 * arrivals: per file its arrival time (the watcher's, else the file's mtime, which the kernel
 * keeps only to a few ms) and the load generator's stamp when there is one. A message is
 * visible to a mail reader from the moment it is in new/, so that is when it counts as delivered.
 * smtp-sink's dump folder (smtp-sink.ts) works the same way: one new file per message received.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readStamp } from './loadgen.js';

export interface Arrival {
  readonly file: string;
  readonly arrivedAtMs: number;
  readonly stamp: { readonly seq: number; readonly sentAtMs: number } | null;
}

export interface MaildirWatch {
  readonly dir: string;
  /** Files in new/ now. */
  count(): Promise<number>;
  /** Resolves once new/ holds `expected` files; rejects when nothing arrives for `stallMs`. */
  waitFor(expected: number, stallMs: number): Promise<void>;
  /** Every file in new/ with its arrival time and stamp; `fromMtime` counts those the watcher missed. */
  arrivals(): Promise<{ readonly all: Arrival[]; readonly fromMtime: number }>;
  close(): void;
}

const pollMs = 50;
/** A listing of new/ (the check for events the watcher missed) at most this often: listing 10,000 names costs the machine under test. */
const listEveryMs = 1000;

/** Watch `dir` (a Maildir's new/, which must exist). */
export function watchMaildir(dir: string): MaildirWatch {
  const seen = new Map<string, number>();
  const watcher: FSWatcher = watch(dir, (_event, name) => {
    // Files enter new/ by rename or link and never leave during a bench: every event is an arrival.
    if (name !== null && !seen.has(name)) seen.set(name, performance.timeOrigin + performance.now());
  });
  watcher.on('error', () => {});
  const count = async (): Promise<number> => (await readdir(dir)).length;

  return {
    dir,
    count,
    async waitFor(expected, stallMs) {
      let last = -1;
      let progressAt = Date.now();
      let listed = 0;
      let listedAt = 0;
      for (;;) {
        if (seen.size < expected && Date.now() - listedAt >= listEveryMs) [listed, listedAt] = [await count(), Date.now()];
        const now = Math.max(seen.size, listed);
        if (now >= expected) return;
        if (now !== last) [last, progressAt] = [now, Date.now()];
        if (Date.now() - progressAt > stallMs) throw new Error(`${dir}: ${now} of ${expected} messages after ${stallMs / 1000} s without a new one`);
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    async arrivals() {
      const all: Arrival[] = [];
      let fromMtime = 0;
      for (const file of await readdir(dir)) {
        const path = join(dir, file);
        let arrivedAtMs = seen.get(file);
        if (arrivedAtMs === undefined) {
          arrivedAtMs = (await stat(path)).mtimeMs;
          fromMtime += 1;
        }
        // The stamp line is in the header block, below the trace headers the delivery agent adds.
        all.push({ file, arrivedAtMs, stamp: readStamp(await readFile(path, 'latin1')) });
      }
      return { all, fromMtime };
    },
    close: () => watcher.close(),
  };
}
