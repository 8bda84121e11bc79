/**
 * Destinations marked down: when no host of a destination could even be spoken to (every
 * connection refused, timed out or turned away at the greeting), the destination is marked down
 * in Redis for a short while, shared by every relay process, and mail for it waits for its next
 * attempt at once instead of each message timing out against the same dead hosts — Postfix's
 * "delivery temporarily suspended".
 *
 * Reads and writes `<prefix>outbound:down:<destination>` (the reason, with a TTL). Each process
 * looks a destination up in Redis at most once a second; what it marks itself it knows at once.
 */
import type { Redis } from 'ioredis';

export interface DownDestinations {
  /** Why `destination` is down, or null when it may be tried. */
  reason(destination: string): Promise<string | null>;
  /** Mark `destination` down for the configured time. */
  mark(destination: string, reason: string): Promise<void>;
}

/** How long a process trusts its last look at a destination. */
const lookAgainMs = 1_000;

export function downDestinations(redis: Redis, prefix: string, downForMs: number): DownDestinations {
  const seen = new Map<string, { readonly at: number; readonly reason: string | null; readonly until: number }>();
  const key = (destination: string): string => `${prefix}outbound:down:${destination}`;

  return {
    async reason(destination) {
      if (downForMs === 0) return null;
      const now = Date.now();
      const known = seen.get(destination);
      if (known !== undefined && now - known.at < lookAgainMs) return known.until > now ? known.reason : null;
      const [reason, ttl] = (await redis.multi().get(key(destination)).pttl(key(destination)).exec()) ?? [];
      const text = typeof reason?.[1] === 'string' ? reason[1] : null;
      const left = typeof ttl?.[1] === 'number' ? ttl[1] : 0;
      // Forget what has passed, so the map holds only destinations looked at lately.
      if (seen.size > 10_000) for (const [name, entry] of seen) if (now - entry.at >= lookAgainMs) seen.delete(name);
      seen.set(destination, { at: now, reason: text, until: text === null ? 0 : now + Math.max(left, 0) });
      return text;
    },
    async mark(destination, reason) {
      if (downForMs === 0) return;
      const now = Date.now();
      seen.set(destination, { at: now, reason, until: now + downForMs });
      await redis.set(key(destination), reason, 'PX', downForMs);
    },
  };
}
