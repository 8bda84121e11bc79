/**
 * Small durable-file helpers shared by both formats: write everything, fsync a directory,
 * the 16-hex digest of a delivery key, and Node error codes.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsync as fsyncCallback, openSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * fsync through the callback API: the one slow step of a delivery runs on the thread pool,
 * while the quick metadata calls around it (open, write to the page cache, link, close) run
 * directly — each pool round trip costs more than those calls themselves.
 */
export const fsyncFd = promisify(fsyncCallback);

/** Writes all of `bytes` to `fd` at its position (a write may be short). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

/** Writes all of `bytes` at the current position (a write may be short). */
export async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Makes a directory's entries (created, linked, renamed names) durable. */
export async function fsyncDirectory(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** 16 hex digits of SHA-256 of a delivery key: what file names and indexes carry. */
export function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 16);
}

/** Whether `error` is a Node system error with one of these codes. */
export function isCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/** The message as chunks, whether given whole or streamed. */
export function chunksOf(message: Buffer | AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  return Buffer.isBuffer(message) ? [message] : message;
}

/** A folder name that is safe as one path component and as a Maildir++ folder. */
export function assertFolder(folder: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(folder) || folder.includes('..')) {
    throw new TypeError(`not a safe folder name: ${JSON.stringify(folder)}`);
  }
}
