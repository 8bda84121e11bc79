/**
 * Small file helpers shared by both formats: write everything to a descriptor, the 16-hex
 * digest of a delivery key, and Node error codes. Durable writes (writeAll, fsyncDirectory)
 * are @mailway/files/durable, shared with the filesystem spool.
 */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';

/** Writes all of `bytes` to `fd` at its position (a write may be short). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
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
