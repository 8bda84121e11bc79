/**
 * CPU time of a set of processes during a bench, from /proc (Linux).
 *
 * Reads /proc/<pid>/stat; emits seconds of user and system time. Each process counts its own
 * time and that of its children it has reaped (cutime, cstime), so a family whose members come
 * and go (Postfix's daemons, reaped by the master; Redis's rewrite child) is counted whole as
 * long as its long-lived members are in the set. Take two readings and subtract.
 */
import { readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
const ticksPerSecond = 100;

/** User and system seconds of `pids` and their reaped children so far; processes already gone count 0. */
export async function cpuSeconds(pids: readonly number[]): Promise<{ readonly user: number; readonly system: number }> {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command, from state (field 3): utime is field 14, stime 15, cutime 16, cstime 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    user += (fields[11] ?? 0) + (fields[13] ?? 0);
    system += (fields[12] ?? 0) + (fields[14] ?? 0);
  }
  return { user: user / ticksPerSecond, system: system / ticksPerSecond };
}
