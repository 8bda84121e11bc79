/**
 * A Redis Cluster for tests: `nodes` redis-server processes with cluster mode on (no replicas,
 * noeviction, nothing persisted) on loopback ports in a temporary folder, joined by
 * `redis-cli --cluster create`, ready once every slot is served. `env` is what a Mailway agent
 * needs to reach it; `keys` lists the keys matching a pattern on every node; `close` stops the
 * nodes and removes the folder.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@mailway/vitest-config/redis';
import { onRedisNode } from './redis-node.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export interface RedisClusterSetup {
  readonly ports: readonly number[];
  /** REDIS_CLUSTER_NODES for an agent. */
  readonly env: { readonly REDIS_CLUSTER_NODES: string };
  /** Keys matching `pattern`, by the port of the node that holds them. */
  keys(pattern: string): Promise<Map<number, string[]>>;
  close(): Promise<void>;
}

/** Starts `nodes` (at least 3) cluster nodes and joins them; resolves once the cluster is ok. */
export async function startRedisCluster(options: { nodes?: number } = {}): Promise<RedisClusterSetup> {
  const { nodes = 3 } = options;
  const dir = await mkdtemp(join(tmpdir(), 'mailway-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < nodes; i += 1) ports.push(await freePort());
  const children: ChildProcess[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const port of ports) {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
      child.once('error', () => {});
      children.push(child);
    }
    for (const port of ports) await waitFor(`cluster node :${port}`, () => onRedisNode(port, async (redis) => (await redis.ping()) === 'PONG').catch(() => false), { timeoutMs: 10_000 });
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    // Every node must agree before a client asks one of them for the slots.
    for (const port of ports) {
      await waitFor(`cluster state ok on :${port}`, () => onRedisNode(port, async (redis) => String(await redis.cluster('INFO')).includes('cluster_state:ok')).catch(() => false), { timeoutMs: 20_000 });
    }
  } catch (error) {
    await close();
    throw error;
  }

  return {
    ports,
    env: { REDIS_CLUSTER_NODES: ports.map((port) => `127.0.0.1:${port}`).join(',') },
    async keys(pattern) {
      const found = new Map<number, string[]>();
      for (const port of ports) found.set(port, await onRedisNode(port, (redis) => redis.keys(pattern)));
      return found;
    },
    close,
  };
}
