/**
 * The local redis-server `mailway start` runs when no REDIS_URL is given: AOF on with
 * `appendfsync always` (a 250 means the message is on disk), `noeviction`, data under the state
 * folder, bound to 127.0.0.1. Stopped with SIGTERM, which makes Redis flush and exit cleanly.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

export interface LocalRedis {
  readonly url: string;
  readonly dataDir: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

const installHint =
  'redis-server was not found. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), ' +
  'or point Mailway at an existing Redis with REDIS_URL=redis://host:6379';

/** The redis-server binary on PATH, or null. */
export function findRedisServer(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0 ? 'redis-server' : null;
}

/** Start redis-server on 127.0.0.1:port with its files in `${state}/redis`; resolves once it answers PING. */
export async function startLocalRedis(state: string, port: number): Promise<LocalRedis> {
  const binary = findRedisServer();
  if (binary === null) throw new Error(installHint);
  const dataDir = join(state, 'redis');
  await mkdir(dataDir, { recursive: true });
  const log = await open(join(dataDir, 'redis.log'), 'a');

  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
    // Own process group, so Ctrl-C stops it only after the agents (see the supervisor).
    { stdio: ['ignore', log.fd, log.fd], detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  try {
    await waitForPing(port, child);
  } catch (error) {
    child.kill('SIGKILL');
    await log.close();
    throw error;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    process: child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await log.close();
    },
  };
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} (port ${port} in use? see its redis.log)`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
