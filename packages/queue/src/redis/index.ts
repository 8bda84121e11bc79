/**
 * @module @mailway/queue/redis
 *
 * The Redis connection every agent uses (one setup per role), the start-up checks (wait until
 * ready, then verify that Redis keeps queued mail: noeviction, version, AOF) and the watch an
 * agent keeps on its connection afterwards.
 */
export { createRedis, describeRedis, type RedisRole } from './connection.js';
export { checkRedis, RedisSetupError, type RedisFacts } from './check.js';
export { waitForRedis, type WaitOptions } from './wait.js';
export { closeRedis, watchRedis, type RedisWatch, type RedisWatchLogger, type RedisWatchMetrics } from './watch.js';
