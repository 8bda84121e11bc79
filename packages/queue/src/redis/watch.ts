/**
 * watchRedis: an agent's view of its command connection to Redis. Reads the client's events;
 * emits one log line per change ("redis connected", "redis connection lost; …", the latter only
 * for a real loss, never for the agent's own QUIT at shutdown), connection errors at debug
 * level, the metrics `mailway_redis_up` (1 while ready, else 0) and
 * `mailway_redis_connection_losses_total`, and `up()`, which SMTP hooks consult to answer
 * 451 4.3.0 at once rather than after a message body. `reached()` waits for the first
 * connection with no deadline, saying now and then that it still waits, so an agent started
 * while Redis is down serves as soon as Redis is back instead of exiting; then it runs
 * checkRedis (a Redis that could lose mail still stops the agent) and logs its warnings.
 */
import type { Redis } from 'ioredis';
import { type RedisFacts, checkRedis } from './check.js';
import { describeRedis } from './connection.js';
import { waitForRedis } from './wait.js';

/** The few logger methods used (pino's fit). */
export interface RedisWatchLogger {
  info(message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** Where the watch keeps its two metrics (the agent's Prometheus registry fits). */
export interface RedisWatchMetrics {
  gauge(name: string, help: string): { set(value: number): void };
  counter(name: string, help: string): { inc(): void };
}

export interface RedisWatch {
  /** Commands can run now. */
  up(): boolean;
  /**
   * Resolves once the client is ready, however long that takes (logging while it waits), and
   * Redis passed checkRedis (its warnings logged); rejects with RedisSetupError when it did not.
   */
  reached(): Promise<RedisFacts>;
  /** Quits the client; the closed connection is no loss. */
  close(): Promise<void>;
}

/** Watch `redis` (a command client) for an agent; `metrics` is where its two metrics go. */
export function watchRedis(redis: Redis, logger: RedisWatchLogger, metrics?: RedisWatchMetrics): RedisWatch {
  const upGauge = metrics?.gauge('redis_up', 'Whether the agent can use Redis now (1) or not (0)');
  const losses = metrics?.counter('redis_connection_losses_total', 'Redis connections lost while the agent was running (its own shutdown not counted)');
  let up = false;
  let closing = false;
  upGauge?.set(0);
  redis.on('ready', () => {
    if (!up) logger.info('redis connected');
    up = true;
    upGauge?.set(1);
  });
  redis.on('close', () => {
    if (up && !closing) {
      logger.warn({ redis: describeRedis(redis) }, 'redis connection lost; new messages get 451 until it is back');
      losses?.inc();
    }
    up = false;
    upGauge?.set(0);
  });
  redis.on('error', (error: Error) => logger.debug({ err: error }, 'redis error'));

  return {
    up: () => up && redis.status === 'ready',
    async reached() {
      await waitForRedis(redis, {
        timeoutMs: Number.POSITIVE_INFINITY,
        onWaiting: (waitedMs, lastError) => logger.warn({ redis: describeRedis(redis), waitedMs, err: lastError }, 'waiting for redis; sessions get 421 until it answers'),
      });
      const facts = await checkRedis(redis);
      for (const warning of facts.warnings) logger.warn({ redis: facts.version }, warning);
      return facts;
    },
    async close() {
      closing = true;
      await closeRedis(redis);
    },
  };
}

/** QUIT, or drop the connection when QUIT cannot be sent (Redis away). */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
