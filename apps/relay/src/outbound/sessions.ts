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
 * limit; the rest wait in arrival order. With leases (leases.ts) the limit holds across every
 * process on one Redis: the attempt at the head of the line takes a lease before it runs, and
 * when none is free the line asks again a little later; an attempt that ends passes its lease
 * to the next waiting one. Cached sessions are this process's own.
 *
 * Adaptive concurrency (with `initialConcurrency`): a destination starts at a few attempts at once
 * and gains one for every window's worth of transactions its hosts take, up to its limit; a
 * session turned away as one too many (421, "too many connections") takes one away, and the
 * window stays below that level for `congestionMemory`, so that a host with a lower limit than
 * ours sees few refusals instead of one in every few sessions. Like Postfix's destination
 * concurrency feedback, the window is this process's own view of the destination.
 *
 * Hosts whose opportunistic STARTTLS failed are remembered for `tlsFailureMemory`, so that their
 * next messages do not repeat the failing handshake before going in plaintext.
 *
 * Reads: sessions handed back after a transaction. Emits: an idle session for a key, slot
 * grants, and counts for metrics.
 */
import type { SmtpClient } from '@mailway/smtp/client';
import type { DestinationLeases } from './leases.js';

export interface SessionCacheOptions {
  /** Attempts at once per destination. */
  readonly perDestination: number;
  /** Attempts at once for the destinations named here, instead of `perDestination`. */
  readonly limits?: ReadonlyMap<string, number>;
  /** An idle session is closed after this many ms; 0 keeps none (every message opens its own). */
  readonly idleTimeout: number;
  /** A session older than this (ms) is closed instead of reused. */
  readonly maxAge: number;
  /** Transactions per session at most. */
  readonly maxMessages: number;
  /** How long a host whose opportunistic STARTTLS failed is sent to in plaintext before STARTTLS is tried again (ms). */
  readonly tlsFailureMemory?: number;
  /** Adaptive concurrency: attempts at once a destination starts with; unset or 0 uses the limit from the start. */
  readonly initialConcurrency?: number;
  /** How long a window lowered by a refusal stays below the level refused (ms). */
  readonly congestionMemory?: number;
}

/** What a finished attempt says about a destination's concurrency. */
export type ConcurrencySignal = 'success' | 'congestion';

/** A destination's adaptive concurrency window. */
interface Window {
  /** Attempts at once allowed: its whole part. */
  size: number;
  /** The window stays at or below this until `ceilingUntil` (after a refusal). */
  ceiling: number;
  ceilingUntil: number;
  touched: number;
}

/** Windows not touched for this long are forgotten (the destination starts again from the initial window). */
const windowIdleMs = 10 * 60_000;

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

interface Waiter {
  readonly since: number;
  readonly grant: (lease: string | null) => void;
  readonly fail: (error: unknown) => void;
}

/** A destination's slots in this process. */
interface Line {
  /** Slots held (with their leases, when there are leases). */
  busy: number;
  /** Leases asked for and not answered yet. */
  asking: number;
  readonly waiting: Waiter[];
  /** Set while the line waits to ask again after all leases were found held. */
  retry: NodeJS.Timeout | null;
}

/** How long a line waits to ask again when every lease is held: a base and a random part (ms). */
const askAgainMs = [40, 40] as const;

export class OutboundSessions {
  readonly #options: SessionCacheOptions;
  readonly #leases: DestinationLeases | undefined;
  /** Hosts (by address) whose STARTTLS failed, until when. */
  readonly #tlsFailed = new Map<string, number>();
  readonly #idle = new Map<string, Idle[]>();
  readonly #lines = new Map<string, Line>();
  readonly #windows = new Map<string, Window>();
  #closed = false;
  /** Sessions opened and transactions that went over a session opened before them. */
  readonly counts = { opened: 0, reused: 0 };

  readonly #count: (kind: 'opened' | 'reused') => void;

  constructor(options: SessionCacheOptions, counter?: { inc(labels: { kind: string }): void }, leases?: DestinationLeases) {
    this.#options = options;
    this.#leases = leases;
    this.#count = (kind) => {
      this.counts[kind] += 1;
      counter?.inc({ kind });
    };
  }

  /** Attempts for `destination` waiting for a slot. */
  waiting(destination: string): number {
    return this.#lines.get(destination)?.waiting.length ?? 0;
  }

  /** How long the longest waiting attempt for `destination` has waited, in ms (0: none waits). */
  waited(destination: string): number {
    const first = this.#lines.get(destination)?.waiting[0];
    return first === undefined ? 0 : Date.now() - first.since;
  }

  /** A slot for `destination`, at once or when one is free (first come, first served). */
  async slot(destination: string): Promise<DestinationSlot> {
    let line = this.#lines.get(destination);
    if (line === undefined) {
      line = { busy: 0, asking: 0, waiting: [], retry: null };
      this.#lines.set(destination, line);
    }
    const held = line;
    const lease = await new Promise<string | null>((grant, fail) => {
      held.waiting.push({ since: Date.now(), grant, fail });
      this.#pump(destination, held);
    });
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#giveBack(destination, held, lease);
      },
    };
  }
  /** Whether STARTTLS with the host at `address` failed within the memory time. */
  tlsFailedLately(address: string): boolean {
    const until = this.#tlsFailed.get(address);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#tlsFailed.delete(address);
    return false;
  }

  /** Remember that STARTTLS with the host at `address` failed. */
  noteTlsFailure(address: string): void {
    const memory = this.#options.tlsFailureMemory ?? 0;
    if (memory > 0) this.#tlsFailed.set(address, Date.now() + memory);
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
    this.#leases?.close();
    const all = [...this.#idle.values()].flat();
    this.#idle.clear();
    for (const { timer } of all) clearTimeout(timer);
    await Promise.all(all.map(({ session }) => session.client.quit()));
  }

  #reusable(session: OpenSession): boolean {
    return !session.client.closed && session.messages < this.#options.maxMessages && Date.now() - session.openedAt < this.#options.maxAge;
  }

  /**
   * Feedback from a finished attempt: a transaction done widens the window by 1/window (one more
   * attempt at once per window's worth), a refusal as one too many narrows it by one. Returns the
   * attempts at once allowed before and after.
   */
  feedback(destination: string, signal: ConcurrencySignal): { readonly before: number; readonly after: number } {
    const before = this.#limit(destination);
    const initial = this.#options.initialConcurrency ?? 0;
    if (initial <= 0) return { before, after: before };
    const limit = this.#configuredLimit(destination);
    const now = Date.now();
    const window = this.#window(destination, now);
    if (signal === 'congestion') {
      window.size = Math.max(1, Math.floor(window.size) - 1);
      window.ceiling = window.size;
      window.ceilingUntil = now + (this.#options.congestionMemory ?? 60_000);
    } else {
      const cap = window.ceilingUntil > now ? Math.min(limit, window.ceiling) : limit;
      // 1/n per transaction at n at once: exactly one more after n of them (rounded, so that sums of fractions land on it).
      const next = window.size + 1 / Math.floor(window.size + 1e-9);
      window.size = Math.min(cap, Math.abs(next - Math.round(next)) < 1e-9 ? Math.round(next) : next);
    }
    window.touched = now;
    const after = this.#limit(destination);
    const line = this.#lines.get(destination);
    if (after > before && line !== undefined) this.#pump(destination, line);
    return { before, after };
  }

  #window(destination: string, now: number): Window {
    let window = this.#windows.get(destination);
    if (window === undefined) {
      if (this.#windows.size >= 1_000) for (const [name, w] of this.#windows) if (now - w.touched > windowIdleMs) this.#windows.delete(name);
      window = { size: Math.min(this.#configuredLimit(destination), this.#options.initialConcurrency ?? 1), ceiling: 0, ceilingUntil: 0, touched: now };
      this.#windows.set(destination, window);
    }
    return window;
  }

  #configuredLimit(destination: string): number {
    return this.#options.limits?.get(destination) ?? this.#options.perDestination;
  }

  /** Attempts at once for `destination` now: its limit, or its adaptive window when smaller. */
  #limit(destination: string): number {
    const limit = this.#configuredLimit(destination);
    const initial = this.#options.initialConcurrency ?? 0;
    if (initial <= 0) return limit;
    const window = this.#windows.get(destination);
    if (window !== undefined && Date.now() - window.touched > windowIdleMs) this.#windows.delete(destination);
    const size = this.#windows.get(destination)?.size ?? initial;
    return Math.max(1, Math.min(limit, Math.floor(size + 1e-9)));
  }

  /** Attempts at once allowed for `destination` now (for logs and tests). */
  concurrency(destination: string): number {
    return this.#limit(destination);
  }

  /** Grants slots to the line's first waiters while the limit allows: at once, or through leases. */
  #pump(destination: string, line: Line): void {
    const limit = this.#limit(destination);
    const leases = this.#leases;
    if (leases === undefined) {
      while (line.waiting.length > 0 && line.busy < limit) {
        line.busy += 1;
        (line.waiting.shift() as Waiter).grant(null);
      }
      this.#forget(destination, line);
      return;
    }
    // Leases: one asked for per waiter while this process holds fewer than the limit; each
    // granted goes to the first waiter, so the line keeps its order whatever Redis answers first.
    if (line.retry !== null) return;
    while (line.busy + line.asking < limit && line.asking < line.waiting.length) {
      line.asking += 1;
      leases.acquire(destination, limit).then(
        (lease) => {
          line.asking -= 1;
          if (lease === null) {
            line.retry ??= setTimeout(() => {
              line.retry = null;
              this.#pump(destination, line);
            }, askAgainMs[0] + Math.random() * askAgainMs[1]);
            return;
          }
          const waiter = line.waiting.shift();
          if (waiter === undefined) {
            void leases.release(destination, lease).catch(() => {});
            this.#forget(destination, line);
            return;
          }
          line.busy += 1;
          waiter.grant(lease);
        },
        // Redis could not be asked: the first waiter's attempt fails (and is retried as a job).
        (error: unknown) => {
          line.asking -= 1;
          line.waiting.shift()?.fail(error);
          this.#forget(destination, line);
        },
      );
    }
  }

  /** A slot given back: passed on to the line's next waiter with its lease, or its lease returned to Redis. */
  #giveBack(destination: string, line: Line, lease: string | null): void {
    // The lease goes on to the next attempt without a word to Redis: the count there stays as it
    // is. One found lapsed is given back instead, and the next attempt asks for a lease of its own.
    // A window narrowed meanwhile takes the slot back instead.
    const next = lease === null || this.#leases?.holds(destination, lease) !== true || line.busy > this.#limit(destination) ? undefined : line.waiting.shift();
    if (next !== undefined) {
      next.grant(lease);
      return;
    }
    line.busy -= 1;
    // Sent before the next waiter's request on the same connection, so Redis sees the slot free;
    // a lease that cannot be given back lapses by itself.
    if (lease !== null) void this.#leases?.release(destination, lease).catch(() => {});
    if (line.retry !== null) {
      clearTimeout(line.retry);
      line.retry = null;
    }
    this.#pump(destination, line);
    this.#forget(destination, line);
  }

  /** Drops a line with nothing held, asked or waiting. */
  #forget(destination: string, line: Line): void {
    if (line.busy === 0 && line.asking === 0 && line.waiting.length === 0 && line.retry === null && this.#lines.get(destination) === line) this.#lines.delete(destination);
  }
}
