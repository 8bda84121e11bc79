/**
 * createRedis: the one place Mailway turns where Redis is into an ioredis client, with the
 * options its role needs. Reads a `redis://` or `rediss://` URL, or a primary watched by
 * Sentinel (the sentinels' addresses and the primary's name, credentials from the URL); emits a
 * connecting client. Through Sentinel the client asks for the current primary on every
 * (re)connect, follows a failover the sentinels announce, and on a READONLY reply (it reached a
 * primary demoted since) reconnects and sends the command again, so writes go to the new primary.
 */
import { Redis, type RedisOptions } from 'ioredis';

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
}

/** Reconnect (2: and resend the command) when a write reached a replica: the primary moved. */
function reconnectOnReadonly(error: Error): 2 | false {
  return error.message.startsWith('READONLY') ? 2 : false;
}

/** The ioredis options that reach `target`: a URL's own, or the sentinels' with the URL's credentials. */
function targetOptions(target: RedisTarget): { url?: string; options: RedisOptions } {
  const sentinels = target.sentinels ?? [];
  if (sentinels.length === 0) return { url: target.url, options: {} };
  if (target.sentinelName === undefined) throw new Error('a primary name is needed with sentinels');
  const url = new URL(target.url);
  const tls = url.protocol === 'rediss:';
  const db = Number(url.pathname.slice(1) || 0);
  return {
    options: {
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      name: target.sentinelName,
      role: 'master',
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(db ? { db } : {}),
      ...(tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
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
  const reach = targetOptions(typeof target === 'string' ? { url: target } : target);
  const clientOptions: RedisOptions = { ...reach.options, ...roleOptions[role], ...(connectionName ? { connectionName } : {}) };
  return reach.url === undefined ? new Redis(clientOptions) : new Redis(reach.url, clientOptions);
}

/** Where a client connects, as a URL without the password (for logs and errors). */
export function describeRedis(redis: Redis): string {
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
