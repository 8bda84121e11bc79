/**
 * createRedis: the one place Mailway turns a Redis URL into an ioredis client, with the options
 * its role needs. Reads a `redis://` or `rediss://` URL; emits a connecting client.
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

/**
 * A client for `url` in the given role (default 'command'). `name` becomes the CLIENT SETNAME
 * shown by CLIENT LIST, e.g. "mailway-submission".
 */
export function createRedis(url: string, options: { role?: RedisRole; name?: string } = {}): Redis {
  const { role = 'command', name } = options;
  // CLIENT SETNAME refuses spaces; a bad name must not cost the connection.
  const connectionName = name?.replace(/[^\x21-\x7e]/g, '-');
  return new Redis(url, { ...roleOptions[role], ...(connectionName ? { connectionName } : {}) });
}

/** Where a client connects, as a URL without the password (for logs and errors). */
export function describeRedis(redis: Redis): string {
  const { host, port, path, username, db, tls } = redis.options;
  if (path) return `unix:${path}`;
  const user = username ? `${encodeURIComponent(username)}@` : '';
  const database = db ? `/${db}` : '';
  return `${tls ? 'rediss' : 'redis'}://${user}${host}:${port}${database}`;
}
