/**
 * Setting fragments every agent shares: Redis, logging, the HTTP endpoint (metrics and
 * health), TLS certificate files, the host name used in greetings and trace headers, the spool
 * and how long failed jobs are kept.
 * Agents compose them into their own schema, e.g. `z.object({ redis: redisSettings, … })`.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { setting } from './setting.js';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/**
 * Where Redis is. One server: REDIS_URL. A primary watched by Sentinel: REDIS_SENTINELS (the
 * sentinels' host:port list) and REDIS_SENTINEL_NAME (the primary's name in them); REDIS_URL
 * then gives only the credentials, database and scheme of the primary, never its address.
 * A Redis Cluster: REDIS_CLUSTER_NODES (some of its nodes, host:port), with a key prefix that is a
 * hash tag (`{mailway}:`), so that the keys Mailway uses together share a slot; the spool's
 * entries still spread over the cluster, each under a tag of its own.
 * REDIS_WAIT_REPLICAS: replicas that must hold a message before it is acknowledged (WAIT);
 * unset means 1 with Sentinel, 0 without.
 */
export const redisSettings = z
  .object({
    url: setting.string('REDIS_URL', 'redis://127.0.0.1:6379'),
    prefix: setting.string('MAILWAY_REDIS_PREFIX', 'mailway:'),
    sentinels: setting.hostPorts('REDIS_SENTINELS', []),
    sentinelName: setting.optionalString('REDIS_SENTINEL_NAME'),
    sentinelUsername: setting.optionalString('REDIS_SENTINEL_USERNAME'),
    sentinelPassword: setting.optionalString('REDIS_SENTINEL_PASSWORD'),
    clusterNodes: setting.hostPorts('REDIS_CLUSTER_NODES', []),
    waitReplicas: setting.optionalInt('REDIS_WAIT_REPLICAS', { min: 0, max: 16 }),
    waitTimeout: setting.duration('REDIS_WAIT_TIMEOUT', 1_000, { min: '1ms' }),
  })
  .superRefine((redis, context) => {
    // A sentinel list and a primary name go together.
    if (redis.sentinels.length > 0 && redis.sentinelName === undefined) {
      context.addIssue({ code: 'custom', path: ['sentinelName'], message: 'required when REDIS_SENTINELS is set: the name the sentinels monitor the primary under' });
    }
    if (redis.sentinels.length === 0 && redis.sentinelName !== undefined) {
      context.addIssue({ code: 'custom', path: ['sentinels'], message: 'required when REDIS_SENTINEL_NAME is set: the sentinels to ask, as host:port, comma-separated' });
    }
    // A cluster: every key a script or MULTI touches together must hash to one slot.
    if (redis.clusterNodes.length > 0 && redis.sentinels.length > 0) {
      context.addIssue({ code: 'custom', path: ['clusterNodes'], message: 'set REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both' });
    }
    if (redis.clusterNodes.length > 0 && !/\{[^{}]+\}/.test(redis.prefix)) {
      context.addIssue({ code: 'custom', path: ['prefix'], message: 'needs a hash tag with REDIS_CLUSTER_NODES, e.g. {mailway}: (keys used together must be in one cluster slot)' });
    }
    if (redis.clusterNodes.length > 0 && (redis.waitReplicas ?? 0) > 0) {
      context.addIssue({ code: 'custom', path: ['waitReplicas'], message: 'not supported with REDIS_CLUSTER_NODES: a cluster acknowledges on the shard that holds the key' });
    }
  });
export type RedisSettings = z.infer<typeof redisSettings>;

/** Where message content is stored: the same for every agent of one installation. */
export const spoolSettings = z.object({
  backend: setting.oneOf('MAILWAY_SPOOL', ['redis', 'fs'], 'redis'),
  directory: setting.string('MAILWAY_SPOOL_DIR', '/var/spool/mailway'),
  /** How often the filesystem spool's expired entries are deleted (Redis expires its own). */
  sweepEvery: setting.duration('MAILWAY_SPOOL_SWEEP_INTERVAL', 15 * 60_000, { min: '1s' }),
});

/**
 * How long a job that failed for good stays in its queue's failed set (for `mailway queue
 * show`/`retry` and bounces); its spooled content stays exactly as long.
 */
// At least a second: BullMQ keeps failed jobs by whole seconds.
export const failedRetentionSetting = setting.duration('MAILWAY_FAILED_RETENTION', 14 * 24 * 60 * 60_000, { min: '1s' });

/**
 * How long a message's trace (`mailway trace`: every agent's events for it) is kept after its
 * latest event. A week covers the queue lifetime's default five days and some reading after.
 */
export const traceRetentionSetting = setting.duration('MAILWAY_TRACE_RETENTION', 7 * 24 * 60 * 60_000, { min: '1s' });

export const logSettings = z.object({
  level: setting.oneOf('LOG_LEVEL', logLevels, 'info'),
});

/** The metrics and health endpoint of one agent; `agent` is the env prefix, e.g. `SUBMISSION`. */
export function httpSettings(agent: string, fallbackPort: number) {
  return z.object({
    host: setting.string(`${agent}_HTTP_HOST`, '127.0.0.1'),
    port: setting.port(`${agent}_HTTP_PORT`, fallbackPort),
  });
}

/** Certificate and key files (PEM) of one agent: both or neither. */
export function tlsSettings(agent: string) {
  const cert = `${agent}_TLS_CERT`;
  const key = `${agent}_TLS_KEY`;
  return z
    .object({ certFile: setting.optionalString(cert), keyFile: setting.optionalString(key) })
    .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
      message: `set both ${cert} and ${key} (certFile and keyFile), or neither`,
    });
}

/**
 * Failed-login limits of one agent that offers AUTH (`${agent}_AUTH_MAX_FAILURES_PER_IP` and so
 * on); the model is described in @mailway/directory's README. The counters behind them are
 * shared by every such agent; each applies its own thresholds.
 */
export function authFailureSettings(agent: string) {
  return z.object({
    /** Failed logins from one client (an IPv4 address, an IPv6 /64) within the window before it is barred. */
    perIp: setting.int(`${agent}_AUTH_MAX_FAILURES_PER_IP`, 10, { min: 1 }),
    /** Failed logins for one user from one client within the window before that pair is barred. */
    perUserIp: setting.int(`${agent}_AUTH_MAX_FAILURES_PER_USER_IP`, 5, { min: 1 }),
    /** Failed logins for one user from anywhere within the window before clients not known for the user are barred. */
    perUser: setting.int(`${agent}_AUTH_MAX_FAILURES_PER_USER`, 10, { min: 1 }),
    /** How long failures count, from the first one. */
    window: setting.duration(`${agent}_AUTH_FAILURE_WINDOW`, 15 * 60_000, { min: '1s' }),
    /** How long a client stays known for a user after its last successful login as that user. */
    knownFor: setting.duration(`${agent}_AUTH_KNOWN_CLIENT_TTL`, 30 * 86_400_000, { min: '1m' }),
    /** Pause before answering a failed login, slowing password guessing. */
    delay: setting.duration(`${agent}_AUTH_FAILURE_DELAY`, 1_000),
  });
}

/** The name this host gives itself in SMTP greetings and Received headers. */
export const hostnameSetting = setting.string('MAILWAY_HOSTNAME', hostname());

/**
 * Further authserv-ids (RFC 8601) of this site besides the host name, e.g. every MX's name or
 * the one id all of them share: Authentication-Results fields claiming any of them are removed
 * from mail that arrives from outside the trust boundary.
 */
export const authservIdsSetting = setting.list('MAILWAY_AUTHSERV_IDS', []);

/**
 * RFC 5321 §6.3 loop detection: a message with more Received fields than this is refused at
 * intake, and an alias expansion that would take a message past it is a routing loop (5.4.6).
 * Postfix's `hopcount_limit` has the same default.
 */
export const hopCountLimitSetting = setting.int('MAILWAY_HOPCOUNT_LIMIT', 50, { min: 1, max: 1000 });
/**
 * Inflow control at the agents that take mail in (submission, port 25): while more than
 * `backlog` jobs wait for a routing or delivery worker, a message waits up to `delay` before it
 * is taken, so that mail arrives no faster than it is delivered (Postfix's `in_flow_delay`,
 * whose default is the same second). 0 turns it off.
 */
export const inflowSettings = z.object({
  delay: setting.duration('MAILWAY_IN_FLOW_DELAY', 1000),
  backlog: setting.int('MAILWAY_IN_FLOW_BACKLOG', 50, { min: 1 }),
});

/** The environment variables of one listener group's connection limits; `prefix` is e.g. `RELAY`. */
export function connectionLimitEnv(prefix: string) {
  return {
    perClient: `${prefix}_CLIENT_CONNECTIONS`,
    perMinute: `${prefix}_CLIENT_CONNECTION_RATE`,
    maxSessions: `${prefix}_MAX_SESSIONS`,
    exempt: `${prefix}_LIMIT_EXEMPT`,
  } as const;
}

/**
 * Connection limits of one agent's SMTP or LMTP listeners, checked when a connection is
 * accepted (counters per process). 0 switches a per-client limit off; a session cap of 0 is
 * worked out from the process's open-file limit at start-up.
 */
export function connectionLimitSettings(prefix: string, defaults: { readonly perClient: number; readonly perMinute: number }) {
  const env = connectionLimitEnv(prefix);
  return z.object({
    /** Sessions open at once from one client (an IPv4 address or an IPv6 /64). */
    perClient: setting.int(env.perClient, defaults.perClient, { min: 0 }),
    /** New connections from one client per minute. */
    perMinute: setting.int(env.perMinute, defaults.perMinute, { min: 0 }),
    /** Sessions open at once on each listener; 0 derives it from the open-file limit. */
    maxSessions: setting.int(env.maxSessions, 0, { min: 0 }),
    /** Client networks (CIDR) free of the per-client limits (the session cap still applies). */
    exempt: setting.list(env.exempt, []),
  });
}
