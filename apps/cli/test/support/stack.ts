/**
 * The whole stack for tests, as a newcomer runs it: `mailway start` as a child process against
 * the test run's Redis, with a key prefix and a MAILWAY_HOME of its own, on free loopback
 * ports, the agents run from their sources. Captures the stack's output; runs `mailway`
 * commands in the same environment.
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
  readonly home: string;
  /** The environment of the stack and of every `mailway` command. */
  readonly env: Record<string, string>;
  readonly process: ChildProcess;
  /** Everything the stack printed so far. */
  output(): string;
  /** Run a `mailway` command; resolves with its stdout, rejects (with stdout, stderr and code) when it fails. */
  mailway(...args: string[]): Promise<string>;
  /** Wait until `probe` gives a value other than null (errors count as null). */
  waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs?: number): Promise<T>;
  /** Stop the stack if it still runs (SIGTERM, so the agents stop too; SIGKILL after 30 s), and remove its home. */
  close(): Promise<void>;
}

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

/** Start `mailway start` (with `extraEnv` on top of the test defaults) and wait until every agent is ready. */
export async function startStack(extraEnv: Record<string, string> = {}): Promise<Stack> {
  // A port found free can be taken by another process before an agent binds it (other test
  // files run at once): a stack that failed on that alone is started again on new ports.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startStackOnce(extraEnv);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof Error) || !error.message.includes('EADDRINUSE')) throw error;
    }
  }
}

async function startStackOnce(extraEnv: Record<string, string>): Promise<Stack> {
  const home = await mkdtemp(join(tmpdir(), 'mailway-stack-'));
  const ports = { sub: await freePort(), subTls: await freePort(), relay: await freePort(), lmtp: await freePort(), h1: await freePort(), h2: await freePort(), h3: await freePort() };
  const env: Record<string, string> = {
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
  // Its own process group, so that closing it reaches every process under it (agents run from
  // source have a tsx parent of their own).
  const child = spawn(process.execPath, [...cli, 'start'], { cwd: cliDir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));

  async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => null);
      if (value !== null) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stack output:\n${output.slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const stack: Stack = {
    home,
    env,
    process: child,
    output: () => output,
    async mailway(...args) {
      const { stdout } = await run(process.execPath, [...cli, ...args], { cwd: cliDir, env });
      return stdout;
    },
    waitFor,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      // Whatever outlived `mailway start` (it was killed, say) goes with its group.
      signalGroup('SIGKILL');
      await rm(home, { recursive: true, force: true });
    },
  };
  function signalGroup(signal: NodeJS.Signals): void {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  }
  try {
    for (const port of [ports.h1, ports.h2, ports.h3]) {
      await waitFor(`agent on :${port} ready`, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : null), 60_000);
    }
  } catch (error) {
    // Never leave a stack that did not come up running behind the test.
    await stack.close();
    throw error;
  }
  return stack;
}
