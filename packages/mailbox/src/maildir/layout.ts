/**
 * The directories of a Maildir and of its Maildir++ folders (`Maildir/.tag/` with its own
 * cur/new/tmp and an empty `maildirfolder` file), created on first delivery with mode 0700
 * and made durable, and the stale-tmp sweep the spec asks of every writer.
 */
import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDirectory } from '@mailway/files/durable';
import { assertFolder, isCode } from '../files.js';

/** Files in tmp/ older than this belong to a dead writer (the spec's 36 hours). */
export const staleTmpMs = 36 * 60 * 60 * 1000;

/** The directory messages for `folder` go into. */
export function folderDir(maildir: string, folder: string | null): string {
  if (folder === null) return maildir;
  assertFolder(folder);
  return join(maildir, `.${folder}`);
}

/** Creates cur/, new/ and tmp/ of `dir` (and of the Maildir above a folder); durable when `fsync`. */
export async function prepare(maildir: string, dir: string, fsync: boolean): Promise<void> {
  if (dir !== maildir) await prepare(maildir, maildir, fsync);
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(join(dir, sub), { mode: 0o700 }).catch(ignoreExists);
  if (dir !== maildir) await writeFile(join(dir, 'maildirfolder'), '', { flag: 'a', mode: 0o600 });
  if (!fsync) return;

  // Every directory that gained an entry, bottom up, up to the parent of the first one created.
  await fsyncDirectory(dir);
  const top = created === undefined ? dir : dirname(created);
  for (let current = dirname(dir); current.length >= top.length; current = dirname(current)) {
    await fsyncDirectory(current);
    if (current === dirname(current)) break;
  }
}

/** Removes files in `tmpDir` untouched for 36 hours; returns how many went. */
export async function sweepTmp(tmpDir: string, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(tmpDir).catch(() => [] as string[])) {
    const path = join(tmpDir, name);
    const info = await stat(path).catch(() => null);
    if (info === null || !info.isFile() || now - info.mtimeMs <= staleTmpMs) continue;
    await unlink(path).catch(() => {});
    removed += 1;
  }
  return removed;
}

function ignoreExists(error: unknown): void {
  if (!isCode(error, 'EEXIST')) throw error;
}
