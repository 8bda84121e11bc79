/**
 * A private redis-server for tests: started on a free loopback port with nothing persisted
 * and `noeviction` (as Mailway requires), stopped when the test run ends.
 *
 * Reads: the `redis-server` binary on PATH. Emits: `{ url, port, stop() }`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port nobody listens on right now (on 127.0.0.1). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once the server answers PING. */
async function waitForPing(port, deadline) {
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts a redis-server. `extraArgs` adds configuration (e.g. ['--appendonly', 'yes']).
 * @param {{ extraArgs?: string[] }} [options]
 */
export async function startRedis(options = {}) {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...(options.extraArgs ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', () => {});
  try {
    await waitForPing(port, Date.now() + 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${error.message}${stderr ? `: ${stderr}` : ''} (is redis-server installed? apt-get install redis-server)`);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A redis-server for tests that kill Redis and start it again: a fixed free port, its data
 * (AOF, `appendfsync always`) in a temporary folder of its own, so that what it acknowledged
 * survives a SIGKILL. `start()` resolves once it answers PING; `kill()` sends SIGKILL and waits
 * for the exit; `remove()` kills it and deletes the folder.
 */
export async function durableRedis() {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'mailway-redis-'));
  let child = null;
  const kill = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child !== null && child.exitCode === null && child.signalCode === null) throw new Error(`redis-server on port ${port} is already running`);
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'],
        { stdio: 'ignore' },
      );
      child.once('error', () => {});
      await waitForPing(port, Date.now() + 10_000);
    },
    kill,
    async remove() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
