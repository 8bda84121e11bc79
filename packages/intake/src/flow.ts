/**
 * Inflow control: when mail arrives faster than it is routed and delivered, the intake waits a
 * little before it takes the next message, as Postfix's `in_flow_delay` does. Messages then
 * wait in their clients (which send no faster than Mailway delivers) instead of in the queue,
 * so end-to-end latency and Redis memory stay bounded under overload. Mail is never refused
 * for it: after `delayMs` the message is taken whatever the backlog.
 *
 * The backlog is the number of jobs waiting for a worker in the given queues (their BullMQ
 * `wait` lists: not the delayed ones, which wait for a retry time, nor the active ones). It is
 * read at most once per `refreshMs` per process, one read shared by every session that asks,
 * so the gate costs no Redis round trip per message. A read that fails counts as no backlog.
 */
import type { Redis } from 'ioredis';
import type { MailQueue, QueueName } from '@mailway/queue/queues';

export interface InflowOptions {
  /** The connection to read the backlog over. */
  readonly redis: Redis;
  /** The Redis keys of the queues' wait lists (BullMQ's `queue.keys.wait`). */
  readonly waitLists: readonly string[];
  /** Above this many waiting jobs, the intake waits (MAILWAY_IN_FLOW_BACKLOG). */
  readonly backlog: number;
  /** The longest a message waits for the backlog to fall (ms; 0 turns the gate off; MAILWAY_IN_FLOW_DELAY). */
  readonly delayMs: number;
  /** How old a backlog reading may be (ms; default 25). */
  readonly refreshMs?: number;
}

export interface InflowGate {
  /** Resolves once the backlog is at most the limit, or `delayMs` has passed; with the ms waited. */
  pass(): Promise<number>;
}

/** A gate that never waits. */
export const openGate: InflowGate = { pass: async () => 0 };

export function createInflowGate(options: InflowOptions): InflowGate {
  if (options.delayMs <= 0 || options.waitLists.length === 0) return openGate;
  const refreshMs = options.refreshMs ?? 25;
  let backlog = 0;
  let readAt = 0;
  let reading: Promise<number> | null = null;

  /** The backlog, read again when the last reading is older than refreshMs. */
  function current(): Promise<number> {
    if (Date.now() - readAt < refreshMs) return Promise.resolve(backlog);
    reading ??= Promise.all(options.waitLists.map((key) => options.redis.llen(key)))
      .then(
        (lengths) => lengths.reduce((sum, length) => sum + length, 0),
        () => 0,
      )
      .then((value) => {
        backlog = value;
        readAt = Date.now();
        reading = null;
        return value;
      });
    return reading;
  }

  return {
    async pass() {
      if ((await current()) <= options.backlog) return 0;
      const started = Date.now();
      const deadline = started + options.delayMs;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(refreshMs, deadline - Date.now())));
        if ((await current()) <= options.backlog) break;
      }
      return Date.now() - started;
    },
  };
}

/** The gate for an agent's inflow settings (MAILWAY_IN_FLOW_DELAY, MAILWAY_IN_FLOW_BACKLOG) over the queues it feeds. */
export function inflowGate(settings: { readonly delay: number; readonly backlog: number }, redis: Redis, queues: readonly MailQueue<QueueName>[]): InflowGate {
  return createInflowGate({ redis, waitLists: queues.flatMap((queue) => queue.queue.keys.wait ?? []), backlog: settings.backlog, delayMs: settings.delay });
}
