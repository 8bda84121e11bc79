/**
 * Outbound SMTP sessions kept open between messages, and how many a destination gets at once.
 *
 * A second message for a host goes over the session the first one used (RSET between
 * transactions, done by the client) instead of a new TCP connection, greeting, EHLO and
 * STARTTLS: the same saving Postfix's connection cache makes. An idle session is closed after
 * `idleTimeout`; a session is not reused once older than `maxAge` or after `maxMessages`
 * transactions, so that a peer's changed configuration (a new certificate, a new limit) is seen.
 *
 * Destination slots: at most `perDestination` attempts run at once per destination (a domain,
 * or a configured next hop shared by many domains), as Postfix's destination concurrency
 * limit; the rest wait in arrival order. Slots and cached sessions are this process's own.
 *
 * Reads: sessions handed back after a transaction. Emits: an idle session for a key, slot
 * grants, and counts for metrics.
 */
import type { SmtpClient } from '@mailway/smtp/client';

export interface SessionCacheOptions {
  /** Attempts at once per destination. */
  readonly perDestination: number;
  /** An idle session is closed after this many ms; 0 keeps none (every message opens its own). */
  readonly idleTimeout: number;
  /** A session older than this (ms) is closed instead of reused. */
  readonly maxAge: number;
  /** Transactions per session at most. */
  readonly maxMessages: number;
}

/** A session as it was opened, with what the attempt records about it. */
export interface OpenSession {
  readonly client: SmtpClient;
  /** STARTTLS failed when it was opened and it went on in plaintext. */
  readonly tlsFallback: boolean;
  readonly openedAt: number;
  /** Transactions carried so far. */
  messages: number;
}

interface Idle {
  readonly session: OpenSession;
  readonly timer: NodeJS.Timeout;
}

/** Held while an attempt runs; `release` exactly once. */
export interface DestinationSlot {
  release(): void;
}

export class OutboundSessions {
  readonly #options: SessionCacheOptions;
  readonly #idle = new Map<string, Idle[]>();
  readonly #busy = new Map<string, number>();
  readonly #waiting = new Map<string, Array<{ readonly since: number; readonly grant: () => void }>>();
  #closed = false;
  /** Sessions opened and transactions that went over a session opened before them. */
  readonly counts = { opened: 0, reused: 0 };

  readonly #count: (kind: 'opened' | 'reused') => void;

  constructor(options: SessionCacheOptions, counter?: { inc(labels: { kind: string }): void }) {
    this.#options = options;
    this.#count = (kind) => {
      this.counts[kind] += 1;
      counter?.inc({ kind });
    };
  }

  /** Attempts for `destination` waiting for a slot. */
  waiting(destination: string): number {
    return this.#waiting.get(destination)?.length ?? 0;
  }

  /** How long the longest waiting attempt for `destination` has waited, in ms (0: none waits). */
  waited(destination: string): number {
    const first = this.#waiting.get(destination)?.[0];
    return first === undefined ? 0 : Date.now() - first.since;
  }

  /** A slot for `destination`, at once or when one is free (first come, first served). */
  async slot(destination: string): Promise<DestinationSlot> {
    const busy = this.#busy.get(destination) ?? 0;
    if (busy < this.#options.perDestination) this.#busy.set(destination, busy + 1);
    else {
      // The releasing attempt passes its slot on: the count stays as it is.
      await new Promise<void>((resolve) => {
        const queue = this.#waiting.get(destination) ?? [];
        queue.push({ since: Date.now(), grant: resolve });
        this.#waiting.set(destination, queue);
      });
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#handOn(destination);
      },
    };
  }

  /** An idle session for `key` that can still be used, or null. */
  take(key: string): OpenSession | null {
    const idle = this.#idle.get(key);
    while (idle !== undefined && idle.length > 0) {
      const { session, timer } = idle.pop() as Idle;
      clearTimeout(timer);
      if (idle.length === 0) this.#idle.delete(key);
      if (this.#reusable(session)) {
        this.#count('reused');
        return session;
      }
      void session.client.quit();
    }
    return null;
  }

  /** Counts a session opened by an attempt. */
  opened(client: SmtpClient, tlsFallback: boolean): OpenSession {
    this.#count('opened');
    return { client, tlsFallback, openedAt: Date.now(), messages: 0 };
  }

  /** Hands a session back after a transaction: kept idle for `key` when it can carry more, else closed. */
  give(key: string, session: OpenSession): void {
    if (this.#closed || this.#options.idleTimeout === 0 || !this.#reusable(session)) {
      void session.client.quit();
      return;
    }
    const idle = this.#idle.get(key) ?? [];
    const timer = setTimeout(() => {
      const list = this.#idle.get(key);
      const index = list?.findIndex((entry) => entry.session === session) ?? -1;
      if (list !== undefined && index >= 0) {
        list.splice(index, 1);
        if (list.length === 0) this.#idle.delete(key);
      }
      void session.client.quit();
    }, this.#options.idleTimeout);
    // An idle session never keeps the process alive.
    timer.unref();
    idle.push({ session, timer });
    this.#idle.set(key, idle);
  }

  /** Idle sessions held now. */
  get idleCount(): number {
    let count = 0;
    for (const list of this.#idle.values()) count += list.length;
    return count;
  }

  /** Quit every idle session; sessions handed back later are closed at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#idle.values()].flat();
    this.#idle.clear();
    for (const { timer } of all) clearTimeout(timer);
    await Promise.all(all.map(({ session }) => session.client.quit()));
  }

  #reusable(session: OpenSession): boolean {
    return !session.client.closed && session.messages < this.#options.maxMessages && Date.now() - session.openedAt < this.#options.maxAge;
  }

  #handOn(destination: string): void {
    const queue = this.#waiting.get(destination);
    const next = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.#waiting.delete(destination);
    if (next !== undefined) {
      next.grant();
      return;
    }
    const busy = (this.#busy.get(destination) ?? 1) - 1;
    if (busy === 0) this.#busy.delete(destination);
    else this.#busy.set(destination, busy);
  }
}
