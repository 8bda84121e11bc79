/**
 * Durable file operations for the filesystem spool: create a file fsynced, and the entry's
 * meta.json (read and validated, written atomically). Writing everything and fsyncing a
 * directory are @mailway/files/durable, shared with the mailbox writers.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { fsyncDirectory, writeAll } from '@mailway/files/durable';
import { join } from 'node:path';
import { z } from 'zod';

/** meta.json of one entry. Times are milliseconds since the epoch. */
export const FsMeta = z.object({
  size: z.number().int().nonnegative(),
  refs: z.number().int(),
  createdAt: z.number().int(),
  claimed: z.boolean(),
  /** When the entry expires (the write TTL, or the latest parked deadline); null while a live job holds it. */
  expiresAt: z.number().int().nullable(),
  /** References parked per token: how many, and until when. */
  parked: z.record(z.string(), z.object({ count: z.number().int().positive(), until: z.number().int() })).default({}),
  /** releaseOnce tokens already counted. */
  released: z.array(z.string()),
  /** retainOnce tokens already counted (absent in entries written before retainOnce existed). */
  retained: z.array(z.string()).default([]),
});
export type FsMeta = z.infer<typeof FsMeta>;

/** Creates `path` with `text`, fsynced. Fails if it exists. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await writeAll(file, Buffer.from(text, 'utf8'));
    await file.sync();
  } finally {
    await file.close();
  }
}

/** The entry's meta, or null when the entry (or its meta.json) does not exist. */
export async function readMeta(entryDir: string): Promise<FsMeta | null> {
  let text: string;
  try {
    text = await readFile(join(entryDir, 'meta.json'), 'utf8');
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return null;
    throw error;
  }
  return FsMeta.parse(JSON.parse(text));
}

/** Replaces meta.json atomically and durably: temp file, fsync, rename, fsync the directory. */
export async function replaceMeta(entryDir: string, meta: FsMeta): Promise<void> {
  const temp = join(entryDir, `.meta-${randomBytes(6).toString('hex')}.json`);
  try {
    await writeDurably(temp, JSON.stringify(meta));
    await rename(temp, join(entryDir, 'meta.json'));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await fsyncDirectory(entryDir);
}

/** Whether `error` is a Node system error with one of these codes. */
export function isCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}
