/**
 * The stack under crash and restart, as an operator runs it: the built `mailway start` with its
 * own redis-server, continuous traffic on the relay port (plain SMTP from a "remote MTA") and the
 * submission port (implicit TLS + AUTH), while redis-server and each agent are killed with
 * SIGKILL several times, sometimes two at once (an agent then starts while Redis is down). Every
 * message that got a 250 must end up in the Maildir exactly once (counted by Message-ID), and
 * `mailway start` must say that it restarted redis-server. The figures (messages, 250s, kills,
 * lost, duplicated, the longest time a port accepted nothing) are printed.
 *
 * Runs the build (apps/<name>/dist): `pnpm test` builds first; after editing sources, run
 * `pnpm build` before running this file alone.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { Dialog } from '@mailway/testing/dialog';
import { freePort } from '@mailway/vitest-config/redis';
import { waitFor as waitForOutput } from './support/wait.js';

const run = promisify(execFile);
const cliDir = fileURLToPath(new URL('..', import.meta.url));
const cliMain = join(cliDir, 'dist', 'main.js');

type Target = 'redis-server' | 'submission' | 'relay' | 'delivery';
type Port = 'relay' | 'submission';

/**
 * What gets killed, step by step, every 2 s; two at once make an agent start while Redis is down.
 * Redis goes early: a job cut off by a Redis restart is retried after BullMQ's back-off (30 s
 * ± 20 %), which bounds how soon the last message can arrive.
 */
const schedule: readonly (readonly Target[])[] = [
  ['redis-server'],
  ['relay'],
  ['submission', 'redis-server'],
  ['delivery'],
  ['redis-server', 'relay'],
  ['submission'],
  ['delivery'],
];
const stepMs = 2_000;
const sendersPerPort = 2;

let home = '';
let stack: ChildProcess | null = null;
let output = '';

afterAll(async () => {
  if (stack !== null && stack.exitCode === null) stack.kill('SIGKILL');
  // Children run in their own process groups: make sure none outlives the test.
  for (const pid of stackChildren) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (home !== '') await rm(home, { recursive: true, force: true });
});
const stackChildren = new Set<number>();

it('loses and duplicates nothing while redis-server and the agents are killed under traffic', async () => {
  expect(existsSync(cliMain), 'apps/cli/dist/main.js is missing: run pnpm build').toBe(true);
  home = await mkdtemp(join(tmpdir(), 'mailway-crash-'));
  const ports = { submission: await freePort(), submissionTls: await freePort(), relay: await freePort(), lmtp: await freePort(), redis: await freePort(), http: [await freePort(), await freePort(), await freePort()] as const };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    MAILWAY_HOME: home,
    MAILWAY_LOCAL_REDIS_PORT: String(ports.redis),
    SUBMISSION_PORT: String(ports.submission),
    SUBMISSION_TLS_PORT: String(ports.submissionTls),
    RELAY_PORT: String(ports.relay),
    DELIVERY_LMTP_PORT: String(ports.lmtp),
    SUBMISSION_HTTP_PORT: String(ports.http[0]),
    RELAY_HTTP_PORT: String(ports.http[1]),
    DELIVERY_HTTP_PORT: String(ports.http[2]),
    // Thousands of messages from one user within the hour.
    SUBMISSION_MESSAGES_PER_HOUR: '0',
    // A killed agent's jobs are taken up again within seconds rather than a minute.
    RELAY_TRANSFER_LOCK_DURATION: '5s',
    RELAY_TRANSFER_STALLED_INTERVAL: '2s',
    DELIVERY_LOCK_DURATION: '5s',
    DELIVERY_STALLED_INTERVAL: '2s',
    LOG_LEVEL: 'warn',
  };

  // The stack, and a user to send as and to.
  stack = spawn(process.execPath, [cliMain, 'start'], { cwd: cliDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  stack.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  stack.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  for (const port of ports.http) await waitFor(`agent on :${port} ready`, async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : null), 60_000);
  const mailway = (...args: string[]) => run(process.execPath, [cliMain, ...args], { cwd: cliDir, env });
  await mailway('domain', 'add', 'example.org');
  await mailway('user', 'add', 'alice@example.org', 'alice-secret');
  await mailway('user', 'add', 'bob@example.org', 'bob-secret');

  // Traffic on both ports until the last kill has been survived.
  const figures = { sent: { relay: 0, submission: 0 }, accepted: { relay: 0, submission: 0 }, longestRefusalMs: { relay: 0, submission: 0 } };
  const accepted = new Set<string>();
  let sending = true;
  const trafficStart = Date.now();
  const lastAccepted: Record<Port, number> = { relay: Date.now(), submission: Date.now() };
  let serial = 0;
  const sender = async (port: Port): Promise<void> => {
    // A session is kept for as long as it works (as an MUA or MTA would), and opened again after a failure.
    let session: Session | null = null;
    while (sending) {
      const id = `crash.${port}.${(serial += 1)}@test.example`;
      figures.sent[port] += 1;
      const ok = await withTimeout(
        (async () => {
          session ??= port === 'relay' ? await relaySession(ports.relay) : await submissionSession(ports.submissionTls);
          return session !== null && (await session.send(id));
        })(),
        20_000,
      ).catch(() => false);
      const now = Date.now();
      if (ok) {
        accepted.add(id);
        figures.accepted[port] += 1;
        figures.longestRefusalMs[port] = Math.max(figures.longestRefusalMs[port], now - lastAccepted[port]);
        lastAccepted[port] = now;
      } else {
        // Refused, deferred or cut off: a client would retry; so do we, with a new message, on a new session.
        await (session as Session | null)?.close().catch(() => {});
        session = null;
        await sleep(100);
      }
    }
    await (session as Session | null)?.close().catch(() => {});
  };
  const senders = (['relay', 'submission'] as const).flatMap((port) => Array.from({ length: sendersPerPort }, () => sender(port)));

  // The kills.
  const kills: Record<Target, number> = { 'redis-server': 0, submission: 0, relay: 0, delivery: 0 };
  await sleep(stepMs);
  for (const step of schedule) {
    const pids = await Promise.all(step.map((target) => waitFor(`${target} running`, () => pidOf(stack!, target), 30_000)));
    for (const [i, target] of step.entries()) {
      process.kill(pids[i]!, 'SIGKILL');
      kills[target] += 1;
    }
    await sleep(stepMs);
  }
  // Everything back, and mail flowing on both ports again, before the traffic stops.
  for (const target of Object.keys(kills) as Target[]) await waitFor(`${target} running`, () => pidOf(stack!, target), 30_000);
  const before = { ...figures.accepted };
  await waitFor('mail accepted again on both ports', async () => (figures.accepted.relay > before.relay && figures.accepted.submission > before.submission ? true : null), 30_000);
  sending = false;
  await Promise.all(senders);
  const trafficMs = Date.now() - trafficStart;

  // Every accepted message delivered, then nothing more arriving.
  const maildir = join(home, 'mail', 'example.org', 'bob', 'Maildir', 'new');
  let delivered = await deliveredIds(maildir);
  await waitFor(
    'every accepted message in the Maildir',
    async () => {
      delivered = await deliveredIds(maildir);
      return [...accepted].every((id) => delivered.has(id)) ? true : null;
    },
    120_000,
  );
  let count = -1;
  await waitFor('the Maildir to settle', async () => {
    const now = await deliveredIds(maildir);
    const total = [...now.values()].reduce((sum, n) => sum + n, 0);
    const settled = total === count;
    count = total;
    delivered = now;
    return settled ? true : (await sleep(1_000), null);
  });

  const lost = [...accepted].filter((id) => !delivered.has(id));
  const duplicated = [...delivered].filter(([, n]) => n > 1).map(([id]) => id);
  const withoutReply = [...delivered.keys()].filter((id) => !accepted.has(id));
  const summary = {
    trafficMs,
    sent: figures.sent,
    accepted: figures.accepted,
    kills,
    delivered: count,
    lost: lost.length,
    duplicated: duplicated.length,
    deliveredWithoutA250Seen: withoutReply.length,
    longestRefusalMs: figures.longestRefusalMs,
  };
  process.stdout.write(`crash figures: ${JSON.stringify(summary)}\n`);

  expect(lost).toEqual([]);
  expect(duplicated).toEqual([]);
  expect(figures.accepted.relay).toBeGreaterThan(0);
  expect(figures.accepted.submission).toBeGreaterThan(0);
  expect(output).toMatch(/redis-server exited \(signal SIGKILL\); restarting in \d+ ms/);
  for (const agent of ['relay', 'submission', 'delivery']) expect(output).toContain(`${agent} exited (signal SIGKILL); restarting in`);

  // And the stack still stops cleanly.
  const exited = new Promise<number | null>((resolve) => stack!.once('exit', (code) => resolve(code)));
  stack.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 180_000);

/** The pid of `target` among the children of `mailway start`, or null while there is none. */
async function pidOf(cli: ChildProcess, target: Target): Promise<number | null> {
  const { stdout } = await run('ps', ['-o', 'pid=,args=', '--ppid', String(cli.pid)]);
  for (const line of stdout.split('\n')) {
    const [pid, ...args] = line.trim().split(/\s+/);
    const command = args.join(' ');
    const matches = target === 'redis-server' ? command.startsWith('redis-server') : command.includes(`${target}/dist/main.js`);
    if (matches && pid !== undefined) {
      stackChildren.add(Number(pid));
      return Number(pid);
    }
  }
  return null;
}

/** An SMTP session that sends one message at a time; send() is true on 250 at the end of data. */
interface Session {
  send(id: string): Promise<boolean>;
  close(): Promise<void>;
}

/** A session from a remote MTA on the relay port, or null when it is not greeted with 220. */
async function relaySession(port: number): Promise<Session | null> {
  const { dialog, greeting } = await Dialog.open(port);
  if (greeting.code !== 220 || (await dialog.command('EHLO mx.remote.example')).code !== 250) return closed(dialog);
  return session(dialog, 'someone@remote.example');
}

/** A session of alice on the submission port (implicit TLS, AUTH PLAIN), or null when not greeted or not logged in. */
async function submissionSession(port: number): Promise<Session | null> {
  const { dialog, greeting } = await Dialog.open(port, { tls: true });
  if (greeting.code !== 220 || (await dialog.command('EHLO client.example')).code !== 250) return closed(dialog);
  if ((await dialog.authPlain('alice@example.org', 'alice-secret')).code !== 235) return closed(dialog);
  return session(dialog, 'alice@example.org');
}

function session(dialog: Dialog, from: string): Session {
  return {
    async send(id) {
      if ((await dialog.command(`MAIL FROM:<${from}>`)).code !== 250) return false;
      if ((await dialog.command('RCPT TO:<bob@example.org>')).code !== 250) return false;
      return (await dialog.data(message(from, id))).code === 250;
    },
    close: () => dialog.close(),
  };
}

async function closed(dialog: Dialog): Promise<null> {
  await dialog.close();
  return null;
}

function message(from: string, id: string): string {
  return [`From: ${from}`, 'To: bob@example.org', `Subject: crash ${id}`, 'Date: Sun, 06 Dec 2026 10:00:00 +0000', `Message-ID: <${id}>`, '', 'Under crash and restart.', ''].join('\r\n');
}

/** How many times each Message-ID is in the Maildir. */
async function deliveredIds(dir: string): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const text = await readFile(join(dir, name), 'latin1');
    const id = /^Message-ID: <([^>]+)>/im.exec(text)?.[1];
    if (id !== undefined) ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return ids;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** waitFor, with the stack's output on time-out. */
function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs?: number): Promise<T> {
  return waitForOutput(what, probe, () => output, timeoutMs);
}
