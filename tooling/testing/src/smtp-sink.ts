/**
 * Postfix's `smtp-sink` (man smtp-sink) started for a test: on a given loopback address and
 * port, writing one dump file per message (`-d`) into a folder of its own, as nobody when the
 * test runs as root (root must hand the process to an unprivileged user, which then writes the
 * dumps). Reading the dumps is up to the test's own helper.
 *
 * Emits: the dump folder and `stop()`, which kills the process (SIGTERM, then SIGKILL) and
 * removes the folder; the exit of the test process kills it too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { untilListening } from './listening.js';

/** Where smtp-sink is installed, or null (tests that need it skip). */
export const smtpSinkPath = ['/usr/sbin/smtp-sink', '/usr/lib/postfix/sbin/smtp-sink'].find((path) => existsSync(path)) ?? null;

export interface SinkProcess {
  /** The folder of dump files, named so that sorting them puts the oldest first. */
  readonly dir: string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts smtp-sink on `address:port` with more `flags`; resolves once it accepts connections, or stops it and throws. */
export async function spawnSmtpSink(address: string, port: number, flags: readonly string[] = []): Promise<SinkProcess> {
  if (smtpSinkPath === null) throw new Error('smtp-sink is not installed (apt-get install postfix)');
  const dir = await mkdtemp(join(tmpdir(), 'mailway-sink-'));
  await chmod(dir, 0o777);
  const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), '-t', '30', '-d', `${dir}/%Y%m%d%H%M%S.`, ...flags, `${address}:${port}`, '64'];
  const child = spawn(smtpSinkPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilListening(port, { host: address, failed: () => (child.exitCode === null ? null : `smtp-sink exited with ${child.exitCode}`) });
  } catch (error) {
    await stop();
    throw new Error(`smtp-sink did not start on ${address}:${port}: ${error instanceof Error ? error.message : String(error)} ${stderr}`);
  }
  return { dir, stop };
}
