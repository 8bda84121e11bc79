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
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSmtpSink } from '@mailway/testing/smtp-sink';

export { smtpSinkPath } from '@mailway/testing/smtp-sink';

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

/** Start smtp-sink on `address:port` with extra `flags`, named `name` in its greeting; resolves once it accepts connections. */
export async function startSink(address: string, port: number, name: string, flags: readonly string[] = []): Promise<Sink> {
  const { dir, stop } = await spawnSmtpSink(address, port, ['-h', name, ...flags]);
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

