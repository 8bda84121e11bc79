/**
 * Mailbox usage in octets, for quotas. Maildir: the S= sizes in the names of new/ and cur/ of
 * the inbox and every Maildir++ folder (a stat only for a name without one), so a large
 * mailbox costs directory listings, never reads. mbox: the sizes of the mbox and its folders.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sizeFromName } from './maildir/names.js';
import { isCode } from './files.js';
import type { MailboxFormat } from './store.js';

/** Octets used by the mailbox at `path`; 0 when it does not exist yet. */
export async function mailboxUsage(path: string, format: MailboxFormat): Promise<number> {
  if (format === 'mbox') return (await sizeOf(path)) + (await mboxFolders(path));
  let total = 0;
  const folders = (await list(path)).filter((name) => name.startsWith('.') && name !== '.' && name !== '..');
  for (const dir of [path, ...folders.map((name) => join(path, name))]) {
    for (const sub of ['new', 'cur']) {
      for (const name of await list(join(dir, sub))) total += sizeFromName(name) ?? (await sizeOf(join(dir, sub, name)));
    }
  }
  return total;
}

/** The mbox folders beside an mbox (`mail/<folder>`), excluding lock and key files. */
async function mboxFolders(path: string): Promise<number> {
  const dir = join(dirname(path), 'mail');
  let total = 0;
  for (const name of await list(dir)) if (!name.endsWith('.lock') && !name.endsWith('.keys')) total += await sizeOf(join(dir, name));
  return total;
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return [];
    throw error;
  }
}

/** A file's size; 0 when it is gone (moved or expunged meanwhile). */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return 0;
    throw error;
  }
}
