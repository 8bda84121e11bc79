/**
 * Durable writes, shared by the mailbox writers and the filesystem spool: write every byte
 * (a write may be short) and fsync a directory so that the names created, renamed or removed
 * in it survive a crash.
 */
import { closeSync, fsync as fsyncCallback, openSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * fsync through the callback API: the one slow step of a write runs on the thread pool,
 * while the quick metadata calls around it (open, write to the page cache, link, close) run
 * directly — each pool round trip costs more than those calls themselves.
 */
export const fsyncFd = promisify(fsyncCallback);

/** Writes all of `bytes` at the current position (a write may be short). */
export async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Makes a directory's entries (created, linked, renamed, removed names) durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}
