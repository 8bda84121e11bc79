/**
 * A lock shared by every process (and host, on a shared volume) that uses one spool directory:
 * a directory that mkdir creates atomically, held while a task runs and removed after it. The
 * filesystem spool takes it around every change to an entry, so agents in several processes
 * never lose each other's reference updates. A holder that died leaves the lock behind: after
 * `staleMs` untouched it is broken, and sweep() removes such leftovers.
 */
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { isCode } from './fs-files.js';

/** A lock held this long is taken to belong to a dead process. Updates under it take milliseconds. */
export const staleLockMs = 30_000;

/** Runs `task` while holding the lock directory `path`, waiting for it as long as another holds it. */
export async function withDirLock<T>(path: string, task: () => Promise<T>): Promise<T> {
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    try {
      await mkdir(path);
      break;
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
    }
    // Held: break it if its holder is long gone, else wait a little (with jitter) and try again.
    if (await isStale(path, Date.now())) await rmdir(path).catch(() => {});
    else await new Promise((resolve) => setTimeout(resolve, wait + Math.random() * wait));
  }
  try {
    return await task();
  } finally {
    await rmdir(path).catch(() => {});
  }
}

/** Whether the lock at `path` was left by a dead holder (absent counts as not stale). */
export async function isStale(path: string, now: number): Promise<boolean> {
  const info = await stat(path).catch(() => null);
  return info !== null && now - info.mtimeMs > staleLockMs;
}
