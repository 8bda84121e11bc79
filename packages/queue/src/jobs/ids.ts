/**
 * Queue ids and deterministic BullMQ job ids.
 *
 * A queue id names one accepted message for its whole life (logs, spool, jobs), as Postfix's
 * queue id does. Reads the system clock and random source; emits 20-character Crockford base 32
 * text that is time-ordered and safe in URLs, file names and BullMQ job ids (no ':').
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const timeChars = 10; // 50 bits: the 48-bit millisecond clock, zero-padded.
const randomChars = 10; // 50 random bits.
const randomLimit = 2 ** 50;

/** The queue id format: 10 time characters (48 bits, so the first is 0-7), 10 random ones. */
export const queueIdPattern = /^[0-7][0-9A-HJKMNP-TV-Z]{19}$/;

/** A queue id as written by newQueueId(). */
export const QueueId = z.string().regex(queueIdPattern, 'not a Mailway queue id');
export type QueueId = z.infer<typeof QueueId>;

let lastTime = -1;
let lastRandom = 0;

/**
 * A new queue id: milliseconds since the epoch, then random bits. Within one process ids are
 * strictly increasing: in the same millisecond (or when the clock steps back) the previous
 * random part is incremented instead of drawn again, as ULID does.
 */
export function newQueueId(): string {
  let time = Date.now();
  let random: number;
  if (time <= lastTime) {
    time = lastTime;
    random = lastRandom + 1;
    // 2^50 ids in one millisecond cannot happen; borrow the next millisecond rather than wrap.
    if (random >= randomLimit) {
      time += 1;
      random = 0;
    }
  } else {
    const bytes = randomBytes(7);
    random = bytes.readUIntBE(0, 6) * 4 + (bytes[6]! & 3);
  }
  lastTime = time;
  lastRandom = random;
  return encode(time, timeChars) + encode(random, randomChars);
}

/** The time a queue id was made, from its first 10 characters. */
export function queueIdTime(queueId: string): Date {
  if (!queueIdPattern.test(queueId)) throw new TypeError(`not a queue id: ${JSON.stringify(queueId)}`);
  let time = 0;
  for (const char of queueId.slice(0, timeChars)) time = time * 32 + alphabet.indexOf(char);
  return new Date(time);
}

/**
 * Job id of a message's transfer job: the queue id itself (one transfer job per message), or
 * for a job derived from another (`parent`, e.g. an expanded alias) `${queueId}.${16 hex}`.
 */
export function transferJobId(queueId: string, parent?: string): string {
  assertQueueId(queueId);
  return parent === undefined ? queueId : `${queueId}.${shortDigest(`transfer|${parent}`)}`;
}

/** Job id of a message's outbound job for one destination domain of one transfer job. */
export function outboundJobId(queueId: string, parent: string, domain: string): string {
  assertQueueId(queueId);
  return `${queueId}.${shortDigest(`outbound|${parent}|${domain.toLowerCase()}`)}`;
}

/** 16 hex digits of SHA-256: enough to keep the ids of one message apart. */
function shortDigest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/**
 * Job id of one recipient's delivery job: `${queueId}.${16 hex of sha256(lowercased address)}`,
 * or for a recipient from an expanded alias (`parent`, the derived transfer job) a digest of both.
 * The same message and recipient always give the same id, so a retried hand-off finds the job
 * already queued instead of delivering a second copy.
 */
export function deliveryJobId(queueId: string, recipientAddress: string, parent?: string): string {
  assertQueueId(queueId);
  const address = recipientAddress.toLowerCase();
  return `${queueId}.${parent === undefined ? shortDigest(address) : shortDigest(`delivery|${parent}|${address}`)}`;
}

function assertQueueId(queueId: string): void {
  if (!queueIdPattern.test(queueId)) throw new TypeError(`not a queue id: ${JSON.stringify(queueId)}`);
}

/** Fixed-width big-endian base 32 of a non-negative integer below 2^53. */
function encode(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i += 1) {
    out = alphabet[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}
