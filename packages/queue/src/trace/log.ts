/**
 * The per-message trace record: one Redis stream per queue id, `<prefix>trace:{<queue id>}`,
 * each entry one event (events.ts) as JSON. Capped (`maxEvents` entries; the newest are
 * kept) and expiring `retentionMs` after its latest event. Its owner is that expiry: nothing
 * else deletes it, so a message's path can be read after the message is gone.
 *
 * Writing is cheap on purpose, since agents write on their hot paths: XADD and PEXPIRE sent on
 * the agent's connection without being waited for, so they travel with the writes the agent
 * makes next and add no round trip of their own. Plain commands, not a pipeline: an ioredis
 * pipeline copies every script defined on the connection (BullMQ defines dozens), which cost
 * more CPU than the writes themselves. A write that fails is reported to `onError` and
 * otherwise forgotten: a trace is an account, never a reason to fail or slow mail.
 *
 * Reads: the stream (`read`), in the order Redis took the entries (its own clock: one order
 * for every agent).
 */
import type { Redis } from 'ioredis';
import { TraceEvent, type TraceEventInput } from './events.js';

export interface TraceLogOptions {
  /** The Mailway key prefix (`mailway:`). */
  readonly prefix: string;
  /** How long a record is kept after its latest event (ms). */
  readonly retentionMs: number;
  /** At most this many events are kept per message, the newest (default 500). */
  readonly maxEvents?: number;
  /** A write Redis refused. */
  readonly onError?: (error: unknown, queueId: string) => void;
}

/** An event as read back, with the id and time Redis gave it. */
export interface TraceEntry {
  readonly id: string;
  /** When Redis took it (ms since the epoch). */
  readonly storedAt: number;
  readonly event: TraceEvent;
}

export interface TraceLog {
  /** Appends `events` to `queueId`'s record; never throws, never waited for. */
  record(queueId: string, ...events: readonly TraceEventInput[]): void;
  /** The record of `queueId`, oldest first; [] when there is none (or it expired). */
  read(queueId: string): Promise<TraceEntry[]>;
  /** Resolves once every write made so far is answered (before a short-lived process disconnects). */
  flush(): Promise<void>;
}

/** The key of `queueId`'s record. */
export function traceKey(prefix: string, queueId: string): string {
  return `${prefix}trace:{${queueId}}`;
}

export function createTraceLog(redis: Redis, options: TraceLogOptions): TraceLog {
  const maxEvents = options.maxEvents ?? 500;
  const pending = new Set<Promise<void>>();
  return {
    record(queueId, ...events) {
      if (events.length === 0) return;
      const key = traceKey(options.prefix, queueId);
      const at = new Date().toISOString();
      const writes: Promise<unknown>[] = events.map((event) =>
        redis.xadd(key, 'MAXLEN', String(maxEvents), '*', 'e', JSON.stringify({ ...event, at: event.at ?? at })),
      );
      writes.push(redis.pexpire(key, options.retentionMs));
      const written = Promise.all(writes).then(
        () => undefined,
        (error: unknown) => options.onError?.(error, queueId),
      );
      pending.add(written);
      void written.finally(() => pending.delete(written));
    },
    async flush() {
      await Promise.all(pending);
    },
    async read(queueId) {
      const entries = await redis.xrange(traceKey(options.prefix, queueId), '-', '+');
      const out: TraceEntry[] = [];
      for (const [id, fields] of entries) {
        const json = fields[fields.indexOf('e') + 1];
        if (json === undefined) continue;
        const parsed = TraceEvent.safeParse(safeJson(json));
        if (parsed.success) out.push({ id, storedAt: Number(id.split('-')[0]), event: parsed.data });
      }
      return out;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
