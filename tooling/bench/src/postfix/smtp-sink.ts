/**
 * Postfix's smtp-sink as the receiving end of an outbound bench: it takes every message and
 * writes each one to a file of its own, so that what arrived can be counted and checked.
 *
 * Reads /usr/sbin/smtp-sink and its running counters (-c, on its stdout); emits a handle with its
 * port, a watch on its dump folder (one file per message, created at DATA and written whole at the
 * final dot; see maildir.ts), the counters (sessions, so connections, and messages, counted at the
 * final dot), when the messages came, its pid and stop(). The folder
 * is on /dev/shm when there is one, so that the sink never waits for a disk. smtp-sink offers
 * PIPELINING, 8BITMIME and DSN, no STARTTLS, and keeps at most 256 sessions at once (the rest wait
 * in the listen backlog). As root it must drop privileges: it runs as `nobody`, which owns the folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type MaildirWatch, watchMaildir } from '../maildir.js';
import { freePort } from '../port.js';
import { nobody, waitForGreeting } from './postfix.js';

export interface SmtpSink {
  readonly port: number;
  readonly pid: number;
  /** Arrivals in the dump folder: one file per message received. */
  readonly received: MaildirWatch;
  /** smtp-sink's own counts so far, the start-up check's session left out: sessions ended and messages received. */
  counters(): { readonly sessions: number; readonly messages: number };
  /**
   * Resolves once `expected` messages are in (each dump file then complete) with the wall-clock
   * ms at which the first and the last were counted; rejects when none comes for `stallMs`.
   */
  messagesIn(expected: number, stallMs: number): Promise<{ readonly firstAtMs: number; readonly lastAtMs: number }>;
  stop(): Promise<void>;
}

const smtpSinkPath = '/usr/sbin/smtp-sink';

/** Start smtp-sink on a free port of 127.0.0.1; resolves once it greets. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mailway-sink-'));
  const root = process.getuid?.() === 0;
  if (root) {
    const owner = await nobody();
    await chown(dir, owner.uid, owner.gid);
  }
  const port = await freePort();
  // The greeting names this sink, so that another server on the port is not mistaken for it.
  const name = `sink-${basename(dir)}`;
  const args = [...(root ? ['-u', 'nobody'] : []), '-c', '-h', name, '-d', join(dir, 'm.'), `127.0.0.1:${port}`, '1024'];
  const child: ChildProcess = spawn(smtpSinkPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  child.once('error', () => {});
  // -c rewrites one line ("sess=N quit=N mesg=N", ended by a carriage return) at every event: keep the last.
  let counterText = '';
  let probeSessions = 0;
  const arrivals = { count: 0, firstAtMs: Number.NaN, lastAtMs: Number.NaN };
  child.stdout?.setEncoding('latin1');
  child.stdout?.on('data', (text: string) => {
    counterText = (counterText + text).slice(-200);
    const messages = counters().messages;
    if (messages === arrivals.count) return;
    arrivals.lastAtMs = Date.now();
    if (arrivals.count === 0) arrivals.firstAtMs = arrivals.lastAtMs;
    arrivals.count = messages;
  });
  const counters = (): { sessions: number; messages: number } => {
    const last = [...counterText.matchAll(/sess=(\d+) quit=\d+ mesg=(\d+)/g)].at(-1);
    return { sessions: Number(last?.[1] ?? 0) - probeSessions, messages: Number(last?.[2] ?? 0) };
  };
  const onExit = (): void => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const received = watchMaildir(dir);
  const stop = async (): Promise<void> => {
    received.close();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };
  try {
    await waitForGreeting(port, name, child);
    // The check's own session (greeting, QUIT) is not the bench's: wait until it is counted.
    const deadline = Date.now() + 5000;
    while (counters().sessions < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    probeSessions = counters().sessions;
  } catch (error) {
    await stop();
    throw new Error(`smtp-sink did not start on 127.0.0.1:${port}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const messagesIn = async (expected: number, stallMs: number): Promise<{ firstAtMs: number; lastAtMs: number }> => {
    const calledAtMs = Date.now();
    for (;;) {
      if (arrivals.count >= expected) return { firstAtMs: arrivals.firstAtMs, lastAtMs: arrivals.lastAtMs };
      const since = Date.now() - Math.max(calledAtMs, Number.isNaN(arrivals.lastAtMs) ? 0 : arrivals.lastAtMs);
      if (since > stallMs) throw new Error(`smtp-sink: ${arrivals.count} of ${expected} messages after ${stallMs / 1000} s without a new one`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { port, pid: child.pid ?? 0, received, counters, messagesIn, stop };
}
