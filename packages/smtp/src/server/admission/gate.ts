/**
 * The admission gate of one listener: decides at accept time, before any greeting, whether a
 * new connection may have a session, in the manner of Postfix's anvil (counters per process,
 * kept in memory; several instances behind a load balancer each apply their own).
 *
 * Reads: the client address of each new connection, and each session's end. Emits: a ticket
 * to give back when the session ends, or a refusal with its 421 reply; every refusal also goes to
 * the `onRefuse` callback, numbered within the client's minute so that a caller can log once per
 * client per minute and count every one.
 *
 * Checks, in order: the listener's session cap (`421 4.3.2`, for every client: it keeps
 * descriptors for the process's own work), then, for clients outside the exempt networks, the
 * client's concurrent sessions (`421 4.7.0`) and its new connections in the last minute (`421
 * 4.7.0`). A client is its IPv4 address, or its IPv6 /64. The accept path costs a Map lookup or
 * two and no timer.
 */
import { clientHost } from '../../address/ip.js';
import { type NetworkList, networkList } from '../../address/networks.js';
import { type Reply, reply } from '../../reply/reply.js';
import { MinuteCounts } from './minute-counts.js';

/** What a refusal was for. */
export type RefusalKind = 'server-sessions' | 'client-sessions' | 'client-rate';

export interface Refusal {
  readonly kind: RefusalKind;
  /** The client's address as the socket reports it. */
  readonly address: string;
  /** The client as counted: its IPv4 address, or its IPv6 /64. */
  readonly client: string;
  /** The limit that was reached. */
  readonly limit: number;
  /** Refusals of this client in the current minute, this one included: 1 is the first. */
  readonly repeat: number;
}

export interface AdmissionOptions {
  /** Sessions open at once on this listener; one more gets `421 4.3.2`. Default: no cap. */
  readonly maxSessions?: number;
  /** Sessions open at once from one client; one more gets `421 4.7.0`. Default: no limit. */
  readonly perClient?: number;
  /** New connections from one client in the last minute; more get `421 4.7.0`. Default: no limit. */
  readonly perClientPerMinute?: number;
  /** Networks (CIDR blocks) whose clients skip the per-client limits (not the session cap). */
  readonly exempt?: readonly string[];
  /** Told of every refusal (for metrics and logs); must not throw. */
  readonly onRefuse?: (refusal: Refusal) => void;
}

/** A session's place, given back with `release` when it ends. */
export interface Ticket {
  /** The client it counts against, or null when exempt or no per-client limit applies. */
  readonly client: string | null;
}

export interface Refused {
  readonly refusal: Refusal;
  readonly reply: Reply;
}

const uncounted: Ticket = { client: null };

export class AdmissionGate {
  /** Sessions holding a ticket. */
  private total = 0;
  private readonly perClient = new Map<string, number>();
  private readonly arrivals: MinuteCounts | null;
  private readonly refusals: MinuteCounts;
  private readonly exempt: NetworkList | null;
  private readonly replies: Record<RefusalKind, Reply>;
  private readonly maxSessions: number;
  private readonly clientSessions: number;
  private readonly clientRate: number;
  private readonly countsClients: boolean;

  constructor(
    options: AdmissionOptions,
    hostname: string,
    private readonly now: () => number = Date.now,
  ) {
    // Sanity checks.
    for (const key of ['maxSessions', 'perClient', 'perClientPerMinute'] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new RangeError(`admission.${key} must be an integer of at least 1`);
    }
    this.maxSessions = options.maxSessions ?? Infinity;
    this.clientSessions = options.perClient ?? Infinity;
    this.clientRate = options.perClientPerMinute ?? Infinity;
    this.countsClients = options.perClient !== undefined || options.perClientPerMinute !== undefined;
    this.exempt = options.exempt !== undefined && options.exempt.length > 0 ? networkList(options.exempt) : null;
    this.arrivals = options.perClientPerMinute === undefined ? null : new MinuteCounts(now());
    this.refusals = new MinuteCounts(now());
    this.onRefuse = options.onRefuse ?? null;
    // RFC 5321 §4.2: a 421 names the server first.
    this.replies = {
      'server-sessions': reply(421, '4.3.2', `${hostname} Too busy, try later`),
      'client-sessions': reply(421, '4.7.0', `${hostname} Too many connections from your host`),
      'client-rate': reply(421, '4.7.0', `${hostname} Too many new connections from your host, try again later`),
    };
  }

  private readonly onRefuse: ((refusal: Refusal) => void) | null;

  /** Sessions open now. */
  get sessions(): number {
    return this.total;
  }

  /** A ticket for a new connection from `address`, or its refusal. */
  admit(address: string): Ticket | Refused {
    // The session cap holds for everyone.
    if (this.total >= this.maxSessions) return this.refuse('server-sessions', address, clientHost(address), this.maxSessions);
    // A client with no address (a UNIX socket) is not counted as one.
    if (!this.countsClients || address === '' || this.exempt?.contains(address) === true) {
      this.total += 1;
      return uncounted;
    }

    // Per client: sessions open now, then connections in the last minute (refused ones too, so
    // that hammering does not pay).
    const client = clientHost(address);
    const open = this.perClient.get(client) ?? 0;
    if (this.arrivals !== null) {
      const recent = this.arrivals.addSliding(client, this.now());
      if (open < this.clientSessions && recent > this.clientRate) return this.refuse('client-rate', address, client, this.clientRate);
    }
    if (open >= this.clientSessions) return this.refuse('client-sessions', address, client, this.clientSessions);
    this.perClient.set(client, open + 1);
    this.total += 1;
    return { client };
  }

  /** Gives a session's ticket back. */
  release(ticket: Ticket): void {
    this.total -= 1;
    const client = ticket.client;
    if (client === null) return;
    const open = (this.perClient.get(client) ?? 1) - 1;
    if (open > 0) this.perClient.set(client, open);
    else this.perClient.delete(client);
  }

  private refuse(kind: RefusalKind, address: string, client: string, limit: number): Refused {
    const refusal: Refusal = { kind, address, client, limit, repeat: this.refusals.add(client, this.now()) };
    this.onRefuse?.(refusal);
    return { refusal, reply: this.replies[kind] };
  }
}

/** True for a refusal, false for a ticket. */
export function isRefused(admission: Ticket | Refused): admission is Refused {
  return 'reply' in admission;
}
