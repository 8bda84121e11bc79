/**
 * Redis behind Sentinel for tests, as an operator runs it on one machine: a primary and its
 * replicas (redis-server, AOF with appendfsync always, noeviction, diskless sync at once) and
 * three sentinels (redis-sentinel) that watch the primary under one name, all on loopback ports
 * and in a temporary folder. A primary is taken for down after 1 s, so a failover takes a few
 * seconds. `kill` SIGKILLs a server; `start` brings a killed one back (the sentinels make it a
 * replica of whoever is primary now); `failover` asks a sentinel for a manual failover (the
 * primary stays up and is made a replica); `pausedFailover` does the same with the primary's writes
 * paused until it is a replica (the planned switch of the README); `primaryPort` asks the sentinels; `env` is what a Mailway
 * agent needs to find the primary; `close` stops everything and removes the folder.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@mailway/vitest-config/redis';
import { onRedisNode } from './redis-node.js';
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
  /**
   * A planned switch: `CLIENT PAUSE <pauseMs> WRITE` to the primary, then a wait until every
   * replica's offset is the primary's, then `SENTINEL FAILOVER <name>`, then a wait until the
   * sentinels name a new primary that takes writes, then `REPLICAOF <new primary>` to the old
   * one and, once it reports itself a replica, `CLIENT UNPAUSE`. The old primary is made a
   * replica here rather than left to the sentinels: their commands to it queue behind their own
   * PUBLISH, which the pause holds, so they demote it only once the pause has ended. Resolves
   * with what it saw; `demotedMs` beyond `pauseMs` means the pause ended while the old primary
   * could still take writes. `demote: 'sentinels'` sends no REPLICAOF and waits for the
   * sentinels instead, to show what the pause alone is worth.
   */
  pausedFailover(pauseMs: number, options?: { demote?: 'replicaof' | 'sentinels'; timeoutMs?: number }): Promise<Switchover>;
  /** Resolves once the sentinels name a primary other than `port` and it takes writes. */
  failedOverFrom(port: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** What a paused failover saw, its times from the `CLIENT PAUSE`. */
export interface Switchover {
  readonly from: number;
  readonly to: number;
  /** The old primary's replication offset once its writes were paused; every replica had it before the failover. */
  readonly offset: number;
  /** Until every replica had the offset. */
  readonly caughtUpMs: number;
  /** Until the sentinels named the new primary and it took writes. */
  readonly promotedMs: number;
  /** Until the old primary reported itself a replica. */
  readonly demotedMs: number;
  readonly pauseMs: number;
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

  const masterFields = async (port: number): Promise<Map<string, string>> => {
    const reply = (await onRedisNode(port, (redis) => redis.call('SENTINEL', 'MASTER', name))) as string[];
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), String(reply[i + 1]));
    return fields;
  };
  const replication = async (port: number): Promise<Map<string, string>> => {
    const text = await onRedisNode(port, (redis) => redis.info('replication'));
    const fields = new Map<string, string>();
    for (const line of text.split('\r\n')) {
      const at = line.indexOf(':');
      if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
    }
    return fields;
  };
  const primaryPort = async (): Promise<number> => {
    const reply = (await onRedisNode(sentinelPorts[0] ?? 0, (redis) => redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name))) as string[];
    return Number(reply[1]);
  };

  const failedOverFrom = (port: number, timeoutMs = 20_000): Promise<number> =>
    waitFor(
      `a failover away from :${port}`,
      async () => {
        const now = await primaryPort().catch(() => port);
        if (now === port) return false;
        const role = await onRedisNode(now, (redis) => redis.role()).catch(() => null);
        return Array.isArray(role) && role[0] === 'master' ? now : false;
      },
      { timeoutMs },
    );

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
      await onRedisNode(sentinelPorts[0] ?? 0, (redis) => redis.call('SENTINEL', 'FAILOVER', name));
    },
    failedOverFrom,
    async pausedFailover(pauseMs, { demote = 'replicaof', timeoutMs = 20_000 } = {}) {
      const from = await primaryPort();
      const replicas = serverPorts.filter((port) => port !== from);
      const pausedAt = Date.now();
      await onRedisNode(from, (redis) => redis.call('CLIENT', 'PAUSE', String(pauseMs), 'WRITE'));

      // The replicas catch up: nothing the primary acknowledged is missing from any of them.
      const offset = await waitFor(
        `the replicas of :${from} to reach its offset`,
        async () => {
          const primary = Number((await replication(from)).get('master_repl_offset'));
          for (const port of replicas) {
            const fields = await replication(port).catch(() => new Map<string, string>());
            if (Number(fields.get('slave_repl_offset')) !== primary) return false;
          }
          return primary;
        },
        { timeoutMs },
      );
      const caughtUpMs = Date.now() - pausedAt;

      // The switch, and the old primary made a replica before its writes resume.
      await onRedisNode(sentinelPorts[0] ?? 0, (redis) => redis.call('SENTINEL', 'FAILOVER', name));
      const to = await failedOverFrom(from, timeoutMs);
      const promotedMs = Date.now() - pausedAt;
      if (demote === 'replicaof') await onRedisNode(from, (redis) => redis.call('REPLICAOF', '127.0.0.1', String(to)));
      await waitFor(`:${from} to become a replica`, async () => ((await onRedisNode(from, (redis) => redis.role()).catch(() => null)) as unknown[] | null)?.[0] === 'slave', { timeoutMs: demote === 'replicaof' ? timeoutMs : pauseMs + timeoutMs });
      const demotedMs = Date.now() - pausedAt;
      await onRedisNode(from, (redis) => redis.call('CLIENT', 'UNPAUSE'));
      return { from, to, offset, caughtUpMs, promotedMs, demotedMs, pauseMs };
    },
    close,
  };
}

/** Resolves once redis-server on `port` answers PING. */
async function ping(port: number): Promise<void> {
  await waitFor(
    `redis-server on :${port}`,
    () => onRedisNode(port, async (redis) => (await redis.ping()) === 'PONG').catch(() => false),
    { timeoutMs: 10_000 },
  );
}
