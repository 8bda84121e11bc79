/**
 * @module @mailway/queue/redis
 *
 * The Redis connection every agent uses (one setup per role) and the start-up checks: wait until
 * ready, then verify that Redis keeps queued mail (noeviction, version, AOF).
 */
export { createRedis, describeRedis, type RedisRole } from './connection.js';
export { checkRedis, RedisSetupError, type RedisFacts } from './check.js';
export { waitForRedis } from './wait.js';
