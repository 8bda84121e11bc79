/**
 * The process's open-file limit (RLIMIT_NOFILE), which bounds how many connections an agent
 * can hold. Node has no call for it; on Linux the kernel shows it in /proc/self/limits.
 *
 * Reads: /proc/self/limits (or the text given). Emits: the soft and hard limits, Infinity for
 * `unlimited`; null where the file is missing or unreadable (other systems), so callers fall back.
 */
import { readFileSync } from 'node:fs';

export interface OpenFileLimit {
  /** The limit in force: opening one more file or socket fails with EMFILE. */
  readonly soft: number;
  /** How far the process may raise the soft limit itself. */
  readonly hard: number;
}

/** The limit from /proc/self/limits, or null when it cannot be read. */
export function readOpenFileLimit(path = '/proc/self/limits'): OpenFileLimit | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  return parseOpenFileLimit(text);
}

/** The "Max open files" line of a limits table: `Max open files  1024  524288  files`. */
export function parseOpenFileLimit(text: string): OpenFileLimit | null {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (match?.[1] === undefined || match[2] === undefined) return null;
  const value = (field: string): number => (field === 'unlimited' ? Infinity : Number(field));
  return { soft: value(match[1]), hard: value(match[2]) };
}
