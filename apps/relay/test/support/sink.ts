/**
 * Postfix's `smtp-sink` as a remote domain's MX host in outbound tests: an independent SMTP
 * server on a chosen loopback address and port (MX hosts share port 25), made faulty by its own
 * flags (man smtp-sink): `-r CMD` answers 4xx, `-f CMD` 5xx (with `-B` for the reply text),
 * `-q CMD` drops the connection without a reply (`.`: after the final dot).
 *
 * Reads: the flags a test passes. Emits: a running sink whose `messages()` are the dump files it
 * wrote (one per message, `-d`): smtp-sink's envelope records (`X-Mail-Args`, `X-Rcpt-Args`, …)
 * and the message text as dumped (LF line endings). `stop()` kills it (SIGTERM, then SIGKILL)
 * and removes its folder; so does the exit of the test process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { untilListening } from '@mailway/testing/listening';

export const smtpSinkPath = ['/usr/sbin/smtp-sink', '/usr/lib/postfix/sbin/smtp-sink'].find((path) => existsSync(path)) ?? null;

export interface DumpedMessage {
  /** smtp-sink's records before the message, in order: `[name, value]`. */
  readonly records: ReadonlyArray<readonly [string, string]>;
  /** The message as smtp-sink wrote it, after its own Received header. */
  readonly text: string;
}

export interface Sink {
  readonly address: string;
  /** Messages taken so far (each dump file that is complete, oldest first). */
  messages(): Promise<DumpedMessage[]>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start smtp-sink on `address:port` with extra `flags`, named `name` in its greeting; resolves once it accepts connections. */
export async function startSink(address: string, port: number, name: string, flags: readonly string[] = []): Promise<Sink> {
  if (smtpSinkPath === null) throw new Error('smtp-sink is not installed (apt-get install postfix)');
  // Root must hand the process to nobody, which then writes the dumps.
  const dir = await mkdtemp(join(tmpdir(), 'mailway-relay-sink-'));
  await chmod(dir, 0o777);
  const args = [...(process.getuid?.() === 0 ? ['-u', 'nobody'] : []), '-h', name, '-t', '30', '-d', `${dir}/%H%M%S.`, ...flags, `${address}:${port}`, '64'];
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

  return {
    address,
    async messages() {
      const out: DumpedMessage[] = [];
      for (const file of (await readdir(dir)).sort()) {
        const dump = await readFile(join(dir, file), 'utf8');
        // A dump is complete once the message and smtp-sink's closing empty line are in.
        if (dump.endsWith('\n\n')) out.push(parseDump(dump));
      }
      return out;
    },
    stop,
  };
}

/** The records up to and including smtp-sink's three-line Received header, then the message. */
function parseDump(dump: string): DumpedMessage {
  const lines = dump.split('\n');
  const records: [string, string][] = [];
  let at = 0;
  for (; at < lines.length; at += 1) {
    const line = lines[at] ?? '';
    const colon = line.indexOf(':');
    records.push([line.slice(0, colon), line.slice(colon + 2)]);
    if (line.startsWith('Received:')) break;
  }
  at += 1;
  while ((lines[at] ?? '').startsWith('\t')) at += 1;
  return { records, text: lines.slice(at).join('\n') };
}

