/**
 * createRedis: the one place Mailway turns where Redis is into an ioredis client, with the
 * options its role needs. Reads a `redis://` or `rediss://` URL, or a primary watched by
 * Sentinel (the sentinels' addresses and the primary's name, credentials from the URL), or a Redis
 * Cluster (some of its nodes, credentials from the URL); emits a connecting client. Through Sentinel the client asks for the current primary on every
 * (re)connect, follows a failover the sentinels announce, and on a READONLY reply (it reached a
 * primary demoted since) reconnects and sends the command again, so writes go to the new primary.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { coalesceWrites } from './coalesce.js';

/**
 * command: answers or fails at once, for producers on the SMTP hot path (a session must be able
 * to say 451 instead of hanging). worker: waits out outages, as BullMQ workers require.
 */
export type RedisRole = 'command' | 'worker';

const roleOptions = {
  command: { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 },
  worker: { maxRetriesPerRequest: null },
} as const satisfies Record<RedisRole, RedisOptions>;

/** Where Redis is: a URL, or a primary found through Sentinel (the URL then gives only credentials, database and scheme). */
export interface RedisTarget {
  readonly url: string;
  readonly sentinels?: readonly { readonly host: string; readonly port: number }[];
  /** The name the sentinels monitor the primary under; required with sentinels. */
  readonly sentinelName?: string | undefined;
  readonly sentinelUsername?: string | undefined;
  readonly sentinelPassword?: string | undefined;
  /** Some nodes of a Redis Cluster; the client learns the others from them. */
  readonly clusterNodes?: readonly { readonly host: string; readonly port: number }[];
}

/** Reconnect (2: and resend the command) when a write reached a replica: the primary moved. */
function reconnectOnReadonly(error: Error): 2 | false {
  return error.message.startsWith('READONLY') ? 2 : false;
}

/** Credentials, database and TLS from a URL whose host is not used (Sentinel, Cluster). */
function urlCredentials(text: string): RedisOptions {
  const url = new URL(text);
  const db = Number(url.pathname.slice(1) || 0);
  return {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(db ? { db } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** The ioredis options that reach `target`: a URL's own, or the sentinels' with the URL's credentials. */
function targetOptions(target: RedisTarget): { url?: string; options: RedisOptions } {
  const sentinels = target.sentinels ?? [];
  if (sentinels.length === 0) return { url: target.url, options: {} };
  if (target.sentinelName === undefined) throw new Error('a primary name is needed with sentinels');
  const credentials = urlCredentials(target.url);
  return {
    options: {
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      name: target.sentinelName,
      role: 'master',
      ...credentials,
      ...(credentials.tls ? { enableTLSForSentinelMode: true } : {}),
      ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
      ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
      // Hear +switch-master from the sentinels rather than wait for the old primary to fail us.
      failoverDetector: true,
      reconnectOnError: reconnectOnReadonly,
      // Sentinels down for a while: keep asking them, as for a single server.
      sentinelRetryStrategy: (times: number) => Math.min(times * 100, 2_000),
    },
  };
}

/**
 * A client for `target` (a URL, or sentinels and a primary name) in the given role (default
 * 'command'). `name` becomes the CLIENT SETNAME shown by CLIENT LIST, e.g. "mailway-submission".
 */
export function createRedis(target: string | RedisTarget, options: { role?: RedisRole; name?: string } = {}): Redis {
  const { role = 'command', name } = options;
  // CLIENT SETNAME refuses spaces; a bad name must not cost the connection.
  const connectionName = name?.replace(/[^\x21-\x7e]/g, '-');
  const named = connectionName ? { connectionName } : {};
  const given = typeof target === 'string' ? { url: target } : target;
  if ((given.clusterNodes ?? []).length > 0) return createCluster(given, role, named);
  const reach = targetOptions(given);
  const clientOptions: RedisOptions = { ...reach.options, ...roleOptions[role], ...named };
  const redis = reach.url === undefined ? new Redis(clientOptions) : new Redis(reach.url, clientOptions);
  coalesceWrites(redis);
  return redis;
}

/**
 * A Redis Cluster client. It answers the same commands as a single server's (BullMQ takes either),
 * so it is handed on as the Redis the rest of Mailway is written against.
 */
function createCluster(target: RedisTarget, role: RedisRole, named: RedisOptions): Redis {
  const { enableOfflineQueue, ...perNode } = roleOptions[role] as RedisOptions;
  const clusterOptions: ClusterOptions = {
    redisOptions: { ...urlCredentials(target.url), ...perNode, ...named },
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    clusterRetryStrategy: (times: number) => Math.min(times * 100, 2_000),
  };
  const nodes = (target.clusterNodes ?? []).map(({ host, port }) => ({ host, port }));
  const cluster = new Cluster(nodes, clusterOptions);
  // Each node's connection coalesces its writes, as a single server's does.
  cluster.on('+node', (node: Redis) => coalesceWrites(node));
  const client = cluster as unknown as Redis;
  clusterDescriptions.set(client, `cluster://${nodes.map(({ host, port }) => `${host}:${port}`).join(',')}`);
  return client;
}

/** How each cluster client was asked to connect (its options name no single host). */
const clusterDescriptions = new WeakMap<Redis, string>();

/** Where a client connects, as a URL without the password (for logs and errors). */
export function describeRedis(redis: Redis): string {
  const cluster = clusterDescriptions.get(redis);
  if (cluster !== undefined) return cluster;
  const { host, port, path, username, db, tls, sentinels, name } = redis.options;
  if (sentinels && sentinels.length > 0) {
    const list = sentinels.map((sentinel) => `${sentinel.host ?? 'localhost'}:${sentinel.port ?? 26379}`).join(',');
    return `sentinel://${list}/${name ?? ''}${db ? `/${db}` : ''}`;
  }
  if (path) return `unix:${path}`;
  const user = username ? `${encodeURIComponent(username)}@` : '';
  const database = db ? `/${db}` : '';
  return `${tls ? 'rediss' : 'redis'}://${user}${host}:${port}${database}`;
}
