/**
 * Memory of a set of processes during a bench, sampled from /proc (Linux).
 *
 * Reads /proc/<pid>/status (VmRSS, VmHWM, Name) of the processes a `members` function names at
 * each tick; emits, on stop(), the peak of their summed RSS over the samples and the sum of each
 * process's own peak (VmHWM, as last seen). The second is what the kernel vouches for but adds
 * peaks that did not coincide; the first is the figure both sides measure alike, also when
 * processes come and go (Postfix recycles its daemons). Also the peak of their summed PSS
 * (/proc/<pid>/smaps_rollup), which counts a page shared by several processes once in all: a
 * forked child (Redis's AOF rewrite), the text of a binary run several times (node, Postfix's
 * daemons) and the shared libraries, which RSS counts again in every process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export interface MemoryPeak {
  /** Highest sum of VmRSS over one sample, in bytes. */
  readonly peakRss: number;
  /** Highest sum of PSS (proportional set size) over one sample, in bytes; 0 where smaps_rollup cannot be read. */
  readonly peakPss: number;
  /** Sum over every process seen of its VmHWM, in bytes. */
  readonly hwmSum: number;
  /** How many processes of each name were seen. */
  readonly names: Readonly<Record<string, number>>;
}

interface Status {
  readonly name: string;
  readonly rss: number;
  readonly hwm: number;
  readonly pss: number;
}

/** Name, VmRSS, VmHWM and PSS of a process, or null when it is gone. */
async function status(pid: number): Promise<Status | null> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null);
  if (text === null) return null;
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const kib = (source: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(source)?.[1] ?? 0) * 1024;
  return { name: /^Name:\s+(.*)$/m.exec(text)?.[1] ?? '?', rss: kib(text, 'VmRSS'), hwm: kib(text, 'VmHWM'), pss: kib(rollup, 'Pss') };
}

/** Every descendant of `pid` (children, their children, …), from /proc/<pid>/task/<tid>/children. */
export function descendants(pid: number): number[] {
  const read = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch {
      return fallback;
    }
  };
  const found: number[] = [];
  const queue = [pid];
  // Synchronous, so that an exit hook can use it too.
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const task of read(() => readdirSync(`/proc/${next}/task`), [] as string[])) {
      const text = read(() => readFileSync(`/proc/${next}/task/${task}/children`, 'utf8'), '');
      for (const child of text.split(' ').filter(Boolean).map(Number)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** Every process whose process group is `pgid`. */
export async function processGroup(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command: state, ppid, pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) members.push(Number(entry));
  }
  return members;
}

/** Sample the processes `members` returns, except those named in `ignore`, every `everyMs` until stop(). */
export function sampleMemory(members: () => Promise<number[]>, ignore: readonly string[] = [], everyMs = 250): { stop(): Promise<MemoryPeak> } {
  const hwm = new Map<number, { name: string; hwm: number }>();
  let peakRss = 0;
  let peakPss = 0;
  let running = true;

  // One sample: the sum of the members' RSS now, and each one's peak so far.
  const sample = async (): Promise<void> => {
    let rss = 0;
    let pss = 0;
    for (const pid of await members()) {
      const now = await status(pid);
      if (now === null || ignore.includes(now.name)) continue;
      rss += now.rss;
      pss += now.pss;
      hwm.set(pid, { name: now.name, hwm: Math.max(now.hwm, hwm.get(pid)?.hwm ?? 0) });
    }
    peakRss = Math.max(peakRss, rss);
    peakPss = Math.max(peakPss, pss);
  };
  const loop = (async () => {
    while (running) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();

  let result: Promise<MemoryPeak> | null = null;
  const finish = async (): Promise<MemoryPeak> => {
    running = false;
    await loop;
    // A last look, so that peaks reached since the previous tick count.
    await sample();
    const names: Record<string, number> = {};
    for (const { name } of hwm.values()) names[name] = (names[name] ?? 0) + 1;
    return { peakRss, peakPss, hwmSum: [...hwm.values()].reduce((sum, p) => sum + p.hwm, 0), names };
  };
  // stop() may be called again (a finally block after the normal path): same answer.
  return { stop: () => (result ??= finish()) };
}
