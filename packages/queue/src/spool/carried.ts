/**
 * Content carried in its job instead of the spool. A message for one local recipient that is
 * small enough travels inside its delivery job: one atomic job add makes it durable, and no
 * spool entry is written, claimed, read or released for it (four Redis scripts fewer). Its
 * owner is the job itself: deleted with it once delivered, kept with it while it waits, is
 * retried, or sits failed for inspection. An alias expansion, which hands the message to new
 * jobs, first writes it to the spool under the job's `spoolId` (writeCarried).
 *
 * The bytes travel as a latin1 string (one character per octet), which JSON carries at about
 * its own size for mail text, where base64 would add a third.
 */
import { type Spool, writeIfAbsent } from './spool.js';

/**
 * Messages up to this many octets travel in their job; larger ones always go through the spool.
 * Measured end to end (`pnpm bench:e2e`): carried, 2 KB messages went 9 % faster, 32 KB ones
 * alike, 100 KB ones a quarter slower (the whole message in one JSON job, parsed and copied
 * whole, where the spool streams it in chunks).
 */
export const carriedLimit = 32 * 1024;

/** What a job says about where its content is. */
export interface ContentRef {
  readonly spoolId: string;
  /** The message itself (latin1), when carried in the job. */
  readonly content?: string | undefined;
}

/** The octets as a job carries them. */
export function carry(octets: Buffer): string {
  return octets.toString('latin1');
}

/** Whether the job carries its own content (and so holds no spool reference). */
export function isCarried(ref: ContentRef): ref is ContentRef & { readonly content: string } {
  return ref.content !== undefined;
}

/** The job's message, from the job or from the spool. */
export async function* readContent(spool: Spool, ref: ContentRef): AsyncGenerator<Buffer, void, undefined> {
  if (isCarried(ref)) yield Buffer.from(ref.content, 'latin1');
  else yield* spool.read(ref.spoolId);
}

/**
 * Writes carried content to the spool under the job's spoolId with `refs` references, for new
 * jobs that will reference it. Safe to repeat after a crash: an entry already there is kept
 * (a spool write is all or nothing).
 */
export async function writeCarried(spool: Spool, ref: ContentRef & { readonly content: string }, refs: number): Promise<void> {
  await writeIfAbsent(spool, ref.spoolId, Buffer.from(ref.content, 'latin1'), { refs });
}
