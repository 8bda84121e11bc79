/**
 * Mailway's side of the end-to-end bench: `mailway start` as a child process, exactly as an
 * administrator runs it, with its own redis-server (AOF, appendfsync always) and the three agents
 * on free ports, state and mailboxes under a fresh temp dir; then the bench's domain and users,
 * created with `mailway domain|user add`.
 *
 * Reads its options; emits a handle with the submission and relay ports, the recipients' Maildir new/
 * folders, the pid of `mailway start` (the agents and Redis are its children), and stop(). The
 * stack's own output goes to mailway.log in the temp dir and is quoted when something fails.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '@mailway/bench-tools/port';
import { descendants } from '@mailway/bench-tools/memory';

export const benchDomain = 'bench.example';
export const benchPassword = 'bench-password';

export interface MailwayStack {
  readonly submissionPort: number;
  /** The relay's inbound SMTP port (local domains, no AUTH: where another MTA hands mail over). */
  readonly relayPort: number;
  /** The pid of `mailway start`; the agents and redis-server are its children. */
  readonly pid: number;
  /** new/ of `${user}@bench.example`'s Maildir (created before the first delivery). */
  maildirNew(user: string): string;
  /** Stop the stack as Ctrl-C would (agents finish their work, then Redis). */
  stop(): Promise<void>;
  /** Stop if still running, then remove the temp dir with the mailboxes and Redis's files. */
  remove(): Promise<void>;
  /** Stop if still running and leave the temp dir in place; resolves with its path. */
  keep(): Promise<string>;
}

const appDir = fileURLToPath(new URL('..', import.meta.url));
const cli = ['--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'];
const readyTimeoutMs = 60_000;
const stopTimeoutMs = 90_000;

/** Start the stack and create `bench.example` with `users` (all with the bench password). */
export async function startMailway(users: readonly string[]): Promise<MailwayStack> {
  const home = await mkdtemp(join(tmpdir(), 'mailway-e2e-'));
  const ports = {
    MAILWAY_LOCAL_REDIS_PORT: await freePort(),
    SUBMISSION_PORT: await freePort(),
    SUBMISSION_TLS_PORT: await freePort(),
    SUBMISSION_HTTP_PORT: await freePort(),
    RELAY_PORT: await freePort(),
    RELAY_HTTP_PORT: await freePort(),
    DELIVERY_LMTP_PORT: await freePort(),
    DELIVERY_HTTP_PORT: await freePort(),
  };
  // Info level, one line per transaction and delivery into a file, as Postfix logs every message to its maillog.
  const env: NodeJS.ProcessEnv = { ...process.env, MAILWAY_HOME: home, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' };
  // The stack's own Redis, never one the environment points at.
  delete env.REDIS_URL;
  for (const [key, port] of Object.entries(ports)) env[key] = String(port);
  // AUTH PLAIN on the plaintext port, as smtp-source talks to Postfix; no per-user hourly limit.
  env.SUBMISSION_ALLOW_INSECURE_AUTH = 'true';
  env.SUBMISSION_MESSAGES_PER_HOUR = '0';
  // Per-client connection limits do not apply to the load generators, as Postfix's anvil limits
  // do not apply to its mynetworks (smtpd_client_event_limit_exceptions): at --clients 100 one
  // client holds more sessions than the default allows.
  env.RELAY_LIMIT_EXEMPT = '127.0.0.0/8';
  env.SUBMISSION_LIMIT_EXEMPT = '127.0.0.0/8';
  // Like for like: Postfix as benched checks no SPF, DKIM or DMARC (that takes a policy daemon or
  // a milter), so port 25's sender authentication is off here (MAILWAY_BENCH_DMARC=on keeps it).
  env.RELAY_DMARC = process.env.MAILWAY_BENCH_DMARC === 'on' ? 'true' : 'false';

  const logPath = join(home, 'mailway.log');
  const log = await open(logPath, 'a');
  // Own process group, so that a Ctrl-C on the bench reaches the bench, which stops the stack in order.
  const child = spawn(process.execPath, [...cli, 'start'], { cwd: appDir, env, stdio: ['ignore', log.fd, log.fd], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  let stopped = false;

  // Last resort when the bench exits without stop(): kill the whole family, remove the state.
  const onExit = (): void => {
    for (const pid of [...descendants(child.pid ?? 0), child.pid ?? 0]) killQuietly(pid);
    removeNow(home);
  };
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await terminate(child, exited);
    await log.close();
  };
  const remove = async (): Promise<void> => {
    await stop();
    await rm(home, { recursive: true, force: true });
    process.off('exit', onExit);
  };
  const keep = async (): Promise<string> => {
    await stop();
    process.off('exit', onExit);
    return home;
  };

  try {
    const httpPorts = [ports.SUBMISSION_HTTP_PORT, ports.RELAY_HTTP_PORT, ports.DELIVERY_HTTP_PORT];
    await waitReady(child, httpPorts);
    const run = async (...args: string[]): Promise<void> => void (await promisify(execFile)(process.execPath, [...cli, ...args], { cwd: appDir, env }));
    await run('domain', 'add', benchDomain);
    await run('user', 'add', `sender@${benchDomain}`, benchPassword);
    for (const user of users) {
      await run('user', 'add', `${user}@${benchDomain}`, benchPassword);
      // The Maildir exists before the first delivery, so that its new/ can be watched from the start.
      for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(maildirNew(home, user), '..', sub), { recursive: true, mode: 0o700 });
    }
  } catch (error) {
    const text = await readFile(logPath, 'utf8').catch(() => '');
    await remove();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`mailway start: ${reason}${text ? `\n--- mailway.log (end) ---\n${text.trimEnd().split('\n').slice(-25).join('\n')}` : ''}`);
  }

  return {
    submissionPort: ports.SUBMISSION_PORT,
    relayPort: ports.RELAY_PORT,
    pid: child.pid ?? 0,
    maildirNew: (user) => maildirNew(home, user),
    stop,
    remove,
    keep,
  };
}

/** Where `mailway start` stores a user's new mail (DELIVERY_MAILBOX_ROOT is $MAILWAY_HOME/mail). */
function maildirNew(home: string, user: string): string {
  return join(home, 'mail', benchDomain, user, 'Maildir', 'new');
}

/** Poll each agent's /readyz until all answer 200; fails if `mailway start` exits or time runs out. */
async function waitReady(child: ChildProcess, httpPorts: readonly number[]): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  const ready = async (port: number): Promise<boolean> => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    return response?.status === 200;
  };
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before the agents were ready`);
    if ((await Promise.all(httpPorts.map(ready))).every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the agents were not ready within ${readyTimeoutMs / 1000} s (GET /readyz on ports ${httpPorts.join(', ')})`);
}

/** SIGTERM to `mailway start`, which stops the agents and then Redis; SIGKILL to all of them if it hangs. */
async function terminate(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const family = descendants(child.pid ?? 0);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), stopTimeoutMs)));
  const done = await Promise.race([exited.then(() => true), late]);
  clearTimeout(timer);
  if (done) return;
  for (const pid of [child.pid ?? 0, ...family]) killQuietly(pid);
  await exited;
}

/** Remove a folder from an exit hook: killed processes may still be finishing a write, so retry; never throw. */
export function removeNow(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  } catch {
    // Left behind in the temp dir.
  }
}

/** SIGKILL a process that may already be gone. */
export function killQuietly(pid: number): void {
  if (pid <= 1) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
