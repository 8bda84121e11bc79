/**
 * waitForRedis: the start-up wait for a client to be ready, bounded, with an error an operator
 * can act on (where, how long, the last connection error). Never prints the password.
 */
import type { Redis } from 'ioredis';
import { describeRedis } from './connection.js';

/** Resolves once `redis` is ready; rejects after `timeoutMs` (default 10 s) or when it ends. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  if (redis.status === 'end') throw new Error(`Redis client for ${describeRedis(redis)} is closed`);

  let lastError: Error | undefined;
  let cleanup = (): void => {};
  const ready = new Promise<void>((resolve, reject) => {
    const onReady = (): void => resolve();
    const onError = (error: Error): void => {
      lastError = error;
    };
    const onEnd = (): void => reject(new Error(`Redis client for ${describeRedis(redis)} closed before it was ready${reason(lastError)}`));
    const timer = setTimeout(
      () => reject(new Error(`Redis at ${describeRedis(redis)} is not ready after ${timeoutMs} ms${reason(lastError)}`)),
      timeoutMs,
    );
    redis.once('ready', onReady);
    redis.on('error', onError);
    redis.once('end', onEnd);
    cleanup = () => {
      clearTimeout(timer);
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
