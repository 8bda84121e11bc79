/**
 * The local redis-server `mailway start` runs when no REDIS_URL is given: AOF on with
 * `appendfsync always` (a 250 means the message is on disk), `noeviction`, data under the state
 * folder, bound to 127.0.0.1. Supervised like the agents: after a crash it is started again on
 * the same port and data folder, and reloads its append-only file, so nothing acknowledged is
 * lost. Stopped with SIGTERM, which makes Redis flush and exit cleanly.
 *
 * Reads: the redis-server binary on PATH. Emits: its output into `${state}/redis/redis.log`, and
 * the supervisor's notices ("redis-server exited (signal SIGKILL); restarting in 250 ms").
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Supervisor, type SupervisorEvents } from './supervisor.js';

export interface LocalRedis {
  readonly url: string;
  readonly dataDir: string;
  /** The running redis-server (a new one after each restart). */
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

const installHint =
  'redis-server was not found. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), ' +
  'or point Mailway at an existing Redis with REDIS_URL=redis://host:6379';

const name = 'redis-server';
const silent: SupervisorEvents = { notice: () => {}, fatal: () => {} };

/** The redis-server binary on PATH, or null. */
export function findRedisServer(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0 ? 'redis-server' : null;
}

/**
 * Start redis-server on 127.0.0.1:port with its files in `${state}/redis`, restarted whenever it
 * dies; resolves once the first one answers PING, rejects if that one exits first.
 */
export async function startLocalRedis(state: string, port: number, events: SupervisorEvents = silent): Promise<LocalRedis> {
  const binary = findRedisServer();
  if (binary === null) throw new Error(installHint);
  const dataDir = join(state, 'redis');
  await mkdir(dataDir, { recursive: true });
  const log = await open(join(dataDir, 'redis.log'), 'a');

  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'];
  const supervisor = new Supervisor([{ name, spawn: () => spawn(binary, args, { stdio: ['ignore', log.fd, log.fd], detached: true }) }], events);
  supervisor.start();
  const current = (): ChildProcess => {
    const child = supervisor.child(name);
    if (child === undefined) throw new Error('redis-server was never started');
    return child;
  };
  try {
    await waitForPing(port, current());
  } catch (error) {
    await supervisor.stop(0);
    await log.close();
    throw error;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    get process() {
      return current();
    },
    async stop() {
      await supervisor.stop();
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
