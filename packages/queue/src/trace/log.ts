/**
 * The per-message trace record: one Redis list per queue id, `<prefix>tracelist:{<queue id>}`,
 * each element one event (events.ts) as JSON. Capped (`maxEvents` elements; the newest are
 * kept) and expiring `retentionMs` after its latest event. Its owner is that expiry: nothing
 * else deletes it, so a message's path can be read after the message is gone.
 *
 * A list, not a stream: a stream made by XADD starts with a node of `stream-node-max-bytes`
 * (4 KiB) however few its entries, and a message's record is a few hundred octets kept for days
 * (MAILWAY_TRACE_RETENTION), so a stream per message took about four times its content in
 * Redis's memory. A list holds its events in an exactly sized listpack.
 *
 * Writing is cheap on purpose, since agents write on their hot paths: one RPUSH of every event
 * recorded together, and a PEXPIRE, sent on the agent's connection without being waited for,
 * so they travel with the writes the agent makes next and add no round trip of their own (the
 * cap's LTRIM only when RPUSH reports the list past it). Plain commands, not a pipeline: an
 * ioredis pipeline copies every script defined on the connection (BullMQ defines dozens), which
 * cost more CPU than the writes themselves. A write that fails is reported to `onError` and
 * otherwise forgotten: a trace is an account, never a reason to fail or slow mail.
 *
 * Reads: the list (`read`), in the order Redis took the events: one order for every agent.
 * Records written as streams (`<prefix>trace:{<queue id>}`) by earlier versions are still read
 * until they expire.
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

/** An event as read back, with its place in the record and its time. */
export interface TraceEntry {
  readonly id: string;
  /** When it was recorded (ms since the epoch; the event's `at`). */
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
  return `${prefix}tracelist:{${queueId}}`;
}

/** Where earlier versions kept the record, as a stream: read, never written. */
export function streamTraceKey(prefix: string, queueId: string): string {
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
      const appended = redis.rpush(key, ...events.map((event) => JSON.stringify({ ...event, at: event.at ?? at }))).then(async (length) => {
        if (length > maxEvents) await redis.ltrim(key, -maxEvents, -1);
      });
      const written = Promise.all([appended, redis.pexpire(key, options.retentionMs)]).then(
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
      const elements = await redis.lrange(traceKey(options.prefix, queueId), 0, -1);
      if (elements.length === 0) return readStream(redis, streamTraceKey(options.prefix, queueId));
      const out: TraceEntry[] = [];
      for (const [index, json] of elements.entries()) {
        const parsed = TraceEvent.safeParse(safeJson(json));
        if (parsed.success) out.push({ id: String(index), storedAt: Date.parse(parsed.data.at), event: parsed.data });
      }
      return out;
    },
  };
}

/** A record an earlier version wrote as a stream; [] when there is none. */
async function readStream(redis: Redis, key: string): Promise<TraceEntry[]> {
  const entries = await redis.xrange(key, '-', '+');
  const out: TraceEntry[] = [];
  for (const [id, fields] of entries) {
    const json = fields[fields.indexOf('e') + 1];
    if (json === undefined) continue;
    const parsed = TraceEvent.safeParse(safeJson(json));
    if (parsed.success) out.push({ id, storedAt: Number(id.split('-')[0]), event: parsed.data });
  }
  return out;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
