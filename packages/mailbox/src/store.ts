/**
 * The mailbox store interface both formats share, and the errors a delivery can end with.
 * A store writes one message into one mailbox, exactly once per delivery key.
 */

/** What a delivery is: its exactly-once key and the folder it goes to. */
export interface DeliveryRecord {
  /** The delivery job id: a second delivery with the same key stores nothing. */
  readonly key: string;
  /** A folder of the mailbox (from a sub-address tag), or null for the inbox. */
  readonly folder: string | null;
  /** The envelope sender for an mbox From_ line; taken from the Return-Path field when absent. */
  readonly sender?: string;
  /**
   * An earlier attempt with this key may have run (a retried or re-queued job), so look for its
   * copy before writing. Default true: only a caller that knows this is the first attempt (a
   * queue job started for the first time) may skip the search.
   */
  readonly retry?: boolean;
  /**
   * Runs once it is known that this key has no stored copy, just before the message is written;
   * throwing stops the delivery. For checks a stored copy must not fail, such as a quota the
   * copy itself now fills.
   */
  readonly beforeWrite?: () => Promise<void>;
}

/** The outcome of one delivery. */
export interface DeliveryResult {
  /** False when an earlier attempt with the same key had already stored the message. */
  readonly stored: boolean;
  /** The file the message is in (a Maildir file, or the mbox). */
  readonly file: string;
  /** Octets of the message as stored. */
  readonly size: number;
}

/** A mailbox format. */
export interface MailboxStore {
  /**
   * Store `message` for the mailbox at `path`, exactly once per `record.key`: if a previous
   * attempt with the same key already stored it (even if its process died right after), resolve
   * `{ stored: false }` without a second copy.
   */
  deliver(path: string, message: Buffer | AsyncIterable<Uint8Array>, record: DeliveryRecord): Promise<DeliveryResult>;
}

export type MailboxFormat = 'maildir' | 'mbox';

/** The mailbox holds too much to take this message (a temporary failure until attempts run out). */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
  constructor(
    readonly usage: number,
    readonly limit: number,
    readonly size: number,
  ) {
    super(`mailbox over quota: ${usage} + ${size} octets exceeds ${limit}`);
  }
}

/** The mbox is locked by another writer for longer than the lock timeout. */
export class MailboxLockedError extends Error {
  override name = 'MailboxLockedError';
  constructor(readonly path: string) {
    super(`mailbox ${path} is locked by another writer`);
  }
}
