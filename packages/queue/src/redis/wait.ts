/**
 * waitForRedis: the wait for a client to be ready, bounded or not, with an error an operator
 * can act on (where, how long, the last connection error). While it waits, ioredis keeps
 * reconnecting with its own growing pause (up to 2 s); `onWaiting` hears about it after 1 s,
 * 2 s, 4 s … then every 30 s, so an agent can say why it is not serving yet. Never prints the
 * password.
 */
import type { Redis } from 'ioredis';
import { describeRedis } from './connection.js';

export interface WaitOptions {
  /** Give up after this long; default 10 s, Infinity to wait for as long as it takes. */
  readonly timeoutMs?: number;
  /** Called now and then while not ready: how long so far, and the last connection error. */
  readonly onWaiting?: (waitedMs: number, lastError: Error | undefined) => void;
}

const firstNoticeMs = 1_000;
const maxNoticeMs = 30_000;

/**
 * Resolves once `redis` is ready; rejects after the timeout (a number is the timeout in ms) or
 * when the client ends.
 */
export async function waitForRedis(redis: Redis, options: number | WaitOptions = {}): Promise<void> {
  const { timeoutMs = 10_000, onWaiting } = typeof options === 'number' ? { timeoutMs: options } : options;
  if (redis.status === 'ready') return;
  if (redis.status === 'end') throw new Error(`Redis client for ${describeRedis(redis)} is closed`);

  let lastError: Error | undefined;
  let cleanup = (): void => {};
  const started = Date.now();
  const ready = new Promise<void>((resolve, reject) => {
    const onReady = (): void => resolve();
    const onError = (error: Error): void => {
      lastError = error;
    };
    const onEnd = (): void => reject(new Error(`Redis client for ${describeRedis(redis)} closed before it was ready${reason(lastError)}`));
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => reject(new Error(`Redis at ${describeRedis(redis)} is not ready after ${timeoutMs} ms${reason(lastError)}`)), timeoutMs)
      : undefined;
    // Notices on a doubling schedule: a short outage says little, a long one keeps saying so.
    let notice: NodeJS.Timeout | undefined;
    const schedule = (inMs: number): void => {
      notice = setTimeout(() => {
        onWaiting?.(Date.now() - started, lastError);
        schedule(Math.min(inMs * 2, maxNoticeMs));
      }, inMs);
    };
    if (onWaiting) schedule(firstNoticeMs);
    redis.once('ready', onReady);
    redis.on('error', onError);
    redis.once('end', onEnd);
    cleanup = () => {
      clearTimeout(timer);
      clearTimeout(notice);
      redis.off('ready', onReady);
      redis.off('error', onError);
      redis.off('end', onEnd);
    };
  });

  try {
    // A lazyConnect client waits for someone to start it; connect() errors arrive as events too.
    if (redis.status === 'wait') redis.connect().catch(() => {});
    await ready;
  } finally {
    cleanup();
  }
}

function reason(error: Error | undefined): string {
  return error ? ` (last error: ${error.message})` : '';
}
