/**
 * Dot-locking of an mbox (`path.lock`, created with O_EXCL), the locking every mbox reader
 * understands and the only one Node can do (it has no fcntl). The lock file holds the
 * holder's pid and host. A lock is stale, and broken, when its holder is a dead process on
 * this host, or when it is older than five minutes.
 *
 * Breaking is check-then-unlink: two writers breaking the same stale lock at the same moment
 * could both proceed. The inode is re-checked just before the unlink to keep that window small.
 */
import { hostname } from 'node:os';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { writeAll } from '@mailway/files/durable';
import { isCode } from '../files.js';
import { MailboxLockedError } from '../store.js';

export const staleLockMs = 5 * 60 * 1000;

export interface DotLock {
  release(): Promise<void>;
}

/** Takes the dot-lock of `path`, waiting up to `timeoutMs`; MailboxLockedError after that. */
export async function acquireLock(path: string, timeoutMs: number): Promise<DotLock> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    // Try to create it.
    try {
      const file = await open(lockPath, 'wx', 0o600);
      try {
        await writeAll(file, Buffer.from(`${process.pid} ${hostname()}\n`));
      } finally {
        await file.close();
      }
      return { release: () => unlink(lockPath).catch(() => {}) };
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
    }

    // Held: break it if stale, else wait.
    if (await breakIfStale(lockPath)) continue;
    if (Date.now() >= deadline) throw new MailboxLockedError(path);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Removes the lock when its holder is gone; true when it did (or the lock vanished). */
async function breakIfStale(lockPath: string): Promise<boolean> {
  const info = await stat(lockPath).catch(() => null);
  if (info === null) return true;
  const text = await readFile(lockPath, 'utf8').catch(() => '');
  const [pid, host] = text.trim().split(' ');
  const deadHolder = host === hostname() && pid !== undefined && /^\d+$/.test(pid) && !isAlive(Number(pid));
  if (!deadHolder && Date.now() - info.mtimeMs < staleLockMs) return false;
  const again = await stat(lockPath).catch(() => null);
  if (again !== null && again.ino === info.ino) await unlink(lockPath).catch(() => {});
  return true;
}

/** Whether a process with this pid exists on this host. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}
