/**
 * The whole stack for tests: `mailway start` run from the sources against the test run's Redis,
 * with a key prefix of its own, on free loopback ports, its state in a temporary folder. Reads
 * MAILWAY_TEST_REDIS_URL; emits a handle with the environment the agents got, their combined
 * output, `mailway` commands run the same way, and a stop that removes everything.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
const cliDir = fileURLToPath(new URL('../..', import.meta.url));
const cli = ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'];

export interface Stack {
  /** The state folder (MAILWAY_HOME). */
  readonly home: string;
  /** The environment of `mailway start` and of every command. */
  readonly env: Record<string, string>;
  readonly process: ChildProcess;
  /** Everything printed so far. */
  output(): string;
  /** Runs a `mailway` command; resolves with its stdout. */
  mailway(...args: string[]): Promise<string>;
  /** Kills the stack if still running and removes its state folder (not its Redis keys). */
  remove(): Promise<void>;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `probe` until it gives a value other than null; the timeout error ends with `context()`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000, context: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `mailway start` with `extraEnv` on top of the test defaults; resolves once every agent is ready. */
export async function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  const home = await mkdtemp(join(tmpdir(), 'mailway-stack-'));
  const ports = { sub: await freePort(), subTls: await freePort(), relay: await freePort(), lmtp: await freePort(), h1: await freePort(), h2: await freePort(), h3: await freePort() };
  const env = {
    PATH: process.env.PATH ?? '',
    MAILWAY_HOME: home,
    REDIS_URL: process.env.MAILWAY_TEST_REDIS_URL ?? '',
    MAILWAY_REDIS_PREFIX: `mailway-test:${randomUUID()}:`,
    SUBMISSION_PORT: String(ports.sub),
    SUBMISSION_TLS_PORT: String(ports.subTls),
    RELAY_PORT: String(ports.relay),
    DELIVERY_LMTP_PORT: String(ports.lmtp),
    SUBMISSION_HTTP_PORT: String(ports.h1),
    RELAY_HTTP_PORT: String(ports.h2),
    DELIVERY_HTTP_PORT: String(ports.h3),
    LOG_LEVEL: 'info',
    // Test the sources as they are, never a stale build.
    MAILWAY_AGENTS_FROM_SOURCE: '1',
    ...extraEnv,
  };
  let output = '';
  const child = spawn(process.execPath, [...cli, 'start'], { cwd: cliDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const tail = () => `; stack output:\n${output.slice(-4000)}`;
  for (const port of [ports.h1, ports.h2, ports.h3]) {
    await waitFor(`agent on :${port} ready`, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : null), 60_000, tail);
  }
  return {
    home,
    env,
    process: child,
    output: () => output,
    async mailway(...args) {
      return (await run(process.execPath, [...cli, ...args], { cwd: cliDir, env })).stdout;
    },
    async remove() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}
