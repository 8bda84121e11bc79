/**
 * @module @mailway/queue/redis
 *
 * The Redis connection every agent uses (one setup per role), the start-up checks (wait until
 * ready, then verify that Redis keeps queued mail: noeviction, version, AOF) and the watch an
 * agent keeps on its connection afterwards, and the replica confirmation (WAIT) that makes an
 * acknowledged write survive a failover.
 */
export { createRedis, describeRedis, type RedisRole, type RedisTarget } from './connection.js';
export { confirmReplicas, replicaWaitOf, ReplicaShortfallError, type ReplicaWait } from './replicas.js';
export { checkRedis, RedisSetupError, type RedisFacts } from './check.js';
export { waitForRedis, type WaitOptions } from './wait.js';
export { closeRedis, watchRedis, type RedisWatch, type RedisWatchLogger, type RedisWatchMetrics } from './watch.js';
