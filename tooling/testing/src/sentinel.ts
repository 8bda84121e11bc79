/**
 * Redis behind Sentinel for tests, as an operator runs it on one machine: a primary and its
 * replicas (redis-server, AOF with appendfsync always, noeviction, diskless sync at once) and
 * three sentinels (redis-sentinel) that watch the primary under one name, all on loopback ports
 * and in a temporary folder. A primary is taken for down after 1 s, so a failover takes a few
 * seconds. `kill` SIGKILLs a server; `start` brings a killed one back (the sentinels make it a
 * replica of whoever is primary now); `failover` asks a sentinel for a manual failover (the
 * primary stays up and is made a replica); `primaryPort` asks the sentinels; `env` is what a Mailway
 * agent needs to find the primary; `close` stops everything and removes the folder.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '@mailway/vitest-config/redis';
import { waitFor } from './wait.js';

export interface SentinelSetup {
  /** The name the sentinels monitor the primary under. */
  readonly name: string;
  /** Ports of the data servers; the first started as the primary. */
  readonly serverPorts: readonly number[];
  readonly sentinelPorts: readonly number[];
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for an agent. */
  readonly env: { readonly REDIS_SENTINELS: string; readonly REDIS_SENTINEL_NAME: string };
  /** The primary's port, as the sentinels see it now. */
  primaryPort(): Promise<number>;
  /** SIGKILL the data server on `port`; resolves once it has exited. */
  kill(port: number): Promise<void>;
  /** Start the data server on `port` again (its data kept). */
  start(port: number): Promise<void>;
  /**
   * `SENTINEL FAILOVER <name>` to the first sentinel: a replica is promoted without the primary
   * being down, and the old primary, still up, is then made a replica of it (its data replaced
   * by the new primary's). Resolves once the sentinel has accepted the request.
   */
  failover(): Promise<void>;
  /** Resolves once the sentinels name a primary other than `port` and it takes writes. */
  failedOverFrom(port: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** The sentinel binary: Debian's redis-sentinel, or redis-server in sentinel mode. */
function sentinelCommand(): { command: string; args: (conf: string) => string[] } {
  const found = spawnSync('sh', ['-c', 'command -v redis-sentinel'], { encoding: 'utf8' }).stdout.trim();
  return found !== '' ? { command: found, args: (conf) => [conf] } : { command: 'redis-server', args: (conf) => [conf, '--sentinel'] };
}

/** Starts a primary with `replicas` replicas and three sentinels; waits until the sentinels see them all. */
export async function startSentinels(options: { replicas?: number; name?: string } = {}): Promise<SentinelSetup> {
  const { replicas = 1, name = 'mailway' } = options;
  const dir = await mkdtemp(join(tmpdir(), 'mailway-sentinel-'));
  const serverPorts: number[] = [];
  for (let i = 0; i <= replicas; i += 1) serverPorts.push(await freePort());
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  const [primary = 0] = serverPorts;
  const children = new Map<number, ChildProcess>();

  // The data servers: every one could become the primary, so all are set up alike.
  const startServer = async (port: number, replicaOf: number | null): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--appendonly', 'yes', '--appendfilename', `aof-${port}.aof`, '--appenddirname', `aof-${port}`, '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
    if (replicaOf !== null) args.push('--replicaof', '127.0.0.1', String(replicaOf));
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    child.once('error', () => {});
    children.set(port, child);
    await ping(port);
  };
  for (const port of serverPorts) await startServer(port, port === primary ? null : primary);

  // The sentinels, each with a config file of its own (a sentinel rewrites it).
  const { command, args } = sentinelCommand();
  for (const port of sentinelPorts) {
    const conf = join(dir, `sentinel-${port}.conf`);
    const lines = [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${primary} 2`, `sentinel down-after-milliseconds ${name} 1000`, `sentinel failover-timeout ${name} 10000`, `sentinel parallel-syncs ${name} 1`];
    await writeFile(conf, `${lines.join('\n')}\n`);
    const child = spawn(command, args(conf), { stdio: 'ignore' });
    child.once('error', () => {});
    children.set(port, child);
  }

  const ask = async <T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> => {
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  };
  const masterFields = async (port: number): Promise<Map<string, string>> => {
    const reply = (await ask(port, (redis) => redis.call('SENTINEL', 'MASTER', name))) as string[];
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
    return fields;
  };
  const primaryPort = async (): Promise<number> => {
    const reply = (await ask(sentinelPorts[0] ?? 0, (redis) => redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))) as string[];
    return Number(reply[1]);
  };

  const kill = async (port: number): Promise<void> => {
    const child = children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  const close = async (): Promise<void> => {
    await Promise.all([...children.keys()].map(kill));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // Ready: every sentinel knows the others and every replica.
    await waitFor(
      'the sentinels to see each other and the replicas',
      async () => {
        for (const port of sentinelPorts) {
          const fields = await masterFields(port).catch(() => new Map<string, string>());
          if (fields.get('num-other-sentinels') !== '2' || fields.get('num-slaves') !== String(replicas)) return false;
        }
        return true;
      },
      { timeoutMs: 20_000 },
    );
  } catch (error) {
    await close();
    throw error;
  }

  return {
    name,
    serverPorts,
    sentinelPorts,
    env: { REDIS_SENTINELS: sentinelPorts.map((port) => `127.0.0.1:${port}`).join(','), REDIS_SENTINEL_NAME: name },
    primaryPort,
    kill,
    start: (port) => startServer(port, null),
    async failover() {
      await ask(sentinelPorts[0] ?? 0, (redis) => redis.call('SENTINEL', 'FAILOVER', name));
    },
    async failedOverFrom(port, timeoutMs = 20_000) {
      return waitFor(
        `a failover away from :${port}`,
        async () => {
          const now = await primaryPort().catch(() => port);
          if (now === port) return false;
          const role = await ask(now, (redis) => redis.role()).catch(() => null);
          return Array.isArray(role) && role[0] === 'master' ? now : false;
        },
        { timeoutMs },
      );
    },
    close,
  };
}

/** Resolves once redis-server on `port` answers PING. */
async function ping(port: number): Promise<void> {
  await waitFor(
    `redis-server on :${port}`,
    async () => {
      const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => {});
      try {
        await redis.connect();
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        redis.disconnect();
      }
    },
    { timeoutMs: 10_000 },
  );
}
