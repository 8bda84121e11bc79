/**
 * The content spool: each message's bytes stored once under an id, referenced from jobs, and
 * reference-counted (one reference per recipient still to be delivered or bounced). This module
 * is the interface the Redis and filesystem backends share, and its errors.
 *
 * Every entry has an owner that removes it (see the package README):
 * - unclaimed (written, job not yet running): its write TTL;
 * - claimed: its references. A live job holds its reference with no expiry; a job that is no
 *   longer live (failed and kept for inspection, or waiting with a bounded lifetime) parks its
 *   references until a deadline. Once every reference is parked, the entry expires at the
 *   latest deadline; released to zero, it goes at once.
 */

/** How a message is stored. */
export interface SpoolWriteOptions {
  /** Pending references: one per recipient still to be delivered or bounced. >= 1. */
  readonly refs: number;
  /**
   * Unclaimed entries expire after this many ms (default 7 days) unless claim() is called: a
   * message spooled but whose job was never enqueued (crash, Redis failure) cleans itself up.
   */
  readonly ttlMs?: number;
}

/** An entry's metadata. */
export interface SpoolEntryInfo {
  readonly id: string;
  /** Octets of content. */
  readonly size: number;
  readonly refs: number;
  readonly createdAt: Date;
  /** Owned by a queued job: it expires only once every reference is parked. */
  readonly claimed: boolean;
  /** References parked until a deadline (see park). */
  readonly parked: number;
  /** When the entry goes on its own: the write TTL, the latest parked deadline, or null (held by a live job). */
  readonly expiresAt: Date | null;
}

/** A spool backend. Every method is safe to call from several processes at once unless noted. */
export interface Spool {
  /**
   * Store a message. Atomic: after it resolves the whole content is durable under `id`; if it
   * rejects (or the process dies) nothing readable is left under `id`. Content may be bytes or
   * an async iterable of chunks, streamed without holding the whole message in memory. Writing
   * an id that exists rejects with SpoolExistsError.
   */
  write(id: string, content: Uint8Array | AsyncIterable<Uint8Array>, options: SpoolWriteOptions): Promise<SpoolEntryInfo>;
  /** Stream the content back, byte-exact, in chunks. Rejects with SpoolNotFoundError if absent. */
  read(id: string): AsyncIterable<Buffer>;
  /** Whole content as one Buffer (small messages, tests). */
  readAll(id: string): Promise<Buffer>;
  /** Metadata, or null when absent. */
  stat(id: string): Promise<SpoolEntryInfo | null>;
  /**
   * Mark the entry as owned by a queued job: from now on it expires only once every reference
   * is parked. Idempotent. Rejects with SpoolNotFoundError if absent.
   */
  claim(id: string): Promise<void>;
  /**
   * Park `count` references under `token` (e.g. a failed job's id) until `until`: a job that is
   * no longer live holds them only that long. When every reference of the entry is parked, the
   * entry expires at the latest deadline. Parking the same token again replaces its count and
   * deadline. Claims the entry. Returns the references (0 = absent, never an error).
   */
  park(id: string, token: string, until: Date, count?: number): Promise<number>;
  /**
   * The job behind `token` is live again (retried): its references hold the entry with no
   * deadline. Idempotent. Returns the references (0 = absent, never an error).
   */
  unpark(id: string, token: string): Promise<number>;
  /** Add references (an alias fanned out to more recipients); returns the new count. */
  retain(id: string, count: number): Promise<number>;
  /**
   * Add `count` references once per token (e.g. 'expand:' + an alias's delivery job id): a second
   * call with the same token changes nothing and returns the current count. Retain and release
   * tokens live apart, so one string may serve as both. Rejects with SpoolNotFoundError if absent.
   */
  retainOnce(id: string, token: string, count: number): Promise<number>;
  /**
   * Drop references; at zero the content is deleted. Returns the references left (0 = deleted;
   * an absent entry gives 0, never an error). Not idempotent: a retried job should use releaseOnce.
   */
  release(id: string, count?: number): Promise<number>;
  /**
   * Drop one reference once per token (e.g. a delivery job id): a second call with the same
   * token changes nothing and returns the current count, so a job retried after a crash never
   * releases twice. A reference parked under `parkedAs` (by default the same token) is no
   * longer parked: a job for several recipients parks them under its own id and releases each
   * under its own token.
   */
  releaseOnce(id: string, token: string, parkedAs?: string): Promise<number>;
  /** Delete regardless of references (admin, failed hand-off). */
  remove(id: string): Promise<void>;
}

/** No entry under this id (never written, released to zero, removed or expired). */
export class SpoolNotFoundError extends Error {
  override name = 'SpoolNotFoundError';
  constructor(readonly id: string) {
    super(`spool entry ${id} not found`);
  }
}

/** An entry already exists under this id. */
export class SpoolExistsError extends Error {
  override name = 'SpoolExistsError';
  constructor(readonly id: string) {
    super(`spool entry ${id} already exists`);
  }
}

/**
 * Writes `content` under `id` unless an entry is there already, which is kept as it is (a spool
 * write is all or nothing): a write that is safe to repeat after a crash.
 */
export async function writeIfAbsent(spool: Spool, id: string, content: Uint8Array, options: SpoolWriteOptions): Promise<void> {
  try {
    await spool.write(id, content, options);
  } catch (error) {
    if (!(error instanceof SpoolExistsError)) throw error;
  }
}

/** Unclaimed entries live this long by default. */
export const defaultSpoolTtlMs = 7 * 24 * 60 * 60 * 1000;

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Ids name directories and sit inside Redis hash tags, so they are restricted to letters,
 * digits, '.', '_' and '-' (not first), at most 128 characters. Queue ids qualify.
 */
export function assertSpoolId(id: string): void {
  if (!isSpoolId(id)) throw new TypeError(`not a spool id: ${JSON.stringify(id)}`);
}

/** Whether `id` is a valid spool id (see assertSpoolId). */
export function isSpoolId(id: string): boolean {
  return idPattern.test(id);
}

/** Checks write options and fills in the default TTL. */
export function writeOptions(options: SpoolWriteOptions): { refs: number; ttlMs: number } {
  const { refs, ttlMs = defaultSpoolTtlMs } = options;
  if (!Number.isSafeInteger(refs) || refs < 1) throw new RangeError(`refs must be a positive integer, not ${refs}`);
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, not ${ttlMs}`);
  return { refs, ttlMs };
}

/** Checks park's arguments; returns the deadline in ms since the epoch. */
export function parkDeadline(token: string, until: Date, count: number): number {
  if (token.length === 0) throw new TypeError('park needs a non-empty token');
  assertCount(count);
  const ms = until.getTime();
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`not a deadline: ${String(until)}`);
  return ms;
}

/** Checks a reference count argument. */
export function assertCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, not ${count}`);
}
