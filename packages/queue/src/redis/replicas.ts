/**
 * Replica confirmation: Redis replicates asynchronously, so a write Redis acknowledged can still
 * be lost when its primary dies before a replica has it and the sentinels promote that replica.
 * `confirmReplicas` sends WAIT on the connection that made the writes and resolves once enough
 * replicas hold every one of them (WAIT counts by replication offset, so everything the primary
 * took before them is covered too); fewer within the timeout is a ReplicaShortfallError, which
 * an SMTP session turns into 451 4.3.0 rather than 250.
 */
import type { Redis } from 'ioredis';

/** How many replicas must confirm, and how long to wait for them. */
export interface ReplicaWait {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** Fewer replicas confirmed the writes than asked within the timeout. */
export class ReplicaShortfallError extends Error {
  override name = 'ReplicaShortfallError';
  constructor(
    readonly confirmed: number,
    readonly wanted: number,
    readonly timeoutMs: number,
  ) {
    super(`${confirmed} of ${wanted} Redis replicas confirmed the writes within ${timeoutMs} ms`);
  }
}

/**
 * The replica wait for a Redis set-up: `replicas` when given, else 1 behind Sentinel (the
 * promoted replica must have what was acknowledged) and 0 for a single server.
 */
export function replicaWaitOf(settings: { readonly sentinels?: readonly unknown[]; readonly waitReplicas?: number | undefined; readonly waitTimeout: number }): ReplicaWait {
  const behindSentinel = (settings.sentinels ?? []).length > 0;
  return { replicas: settings.waitReplicas ?? (behindSentinel ? 1 : 0), timeoutMs: settings.waitTimeout };
}

/** WAIT for `wait.replicas` replicas to hold the writes made on `redis`; resolves with how many did. */
export async function confirmReplicas(redis: Redis, wait: ReplicaWait): Promise<number> {
  if (wait.replicas === 0) return 0;
  const confirmed = await redis.wait(wait.replicas, wait.timeoutMs);
  if (confirmed < wait.replicas) throw new ReplicaShortfallError(confirmed, wait.replicas, wait.timeoutMs);
  return confirmed;
}
