/**
 * Postfix's smtp-source as a timed load generator.
 *
 * Reads /usr/sbin/smtp-source; emits a SourceResult. smtp-source sends `messages` messages over
 * `sessions` parallel sessions, one command at a time (no pipelining). Each message is a small
 * header block that smtp-source writes (From, To, Date, Message-Id) plus `size` bytes of body.
 * With `reuse` (the default, smtp-source -d) a session sends its messages over one connection,
 * as the TS load generator does; without it, each message opens a connection.
 *
 * The child is killed when `timeoutMs` passes or when this process exits.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';

export interface SourceOptions {
  readonly port: number;
  readonly sessions: number;
  /** Body bytes per message (smtp-source -l). */
  readonly size: number;
  readonly messages: number;
  /** Keep each session's connection for all its messages (smtp-source -d); default true. */
  readonly reuse?: boolean;
  readonly from?: string;
  readonly to?: string;
  readonly timeoutMs?: number;
}

export interface SourceResult {
  /** Messages asked for; all were accepted only if exitCode is 0. */
  readonly messages: number;
  /** Wall time of the whole run, connection set-up included. */
  readonly seconds: number;
  /** messages / seconds; NaN when smtp-source failed. */
  readonly rate: number;
  readonly exitCode: number;
  /** The end of smtp-source's diagnostics. */
  readonly stderr: string;
}

const smtpSourcePath = '/usr/sbin/smtp-source';

/** Run smtp-source against 127.0.0.1:port and time it. */
export async function runSmtpSource(options: SourceOptions): Promise<SourceResult> {
  const args = ['-s', String(options.sessions), '-l', String(options.size), '-m', String(options.messages)];
  if (options.reuse ?? true) args.push('-d');
  args.push('-f', options.from ?? 'sender@bench.invalid', '-t', options.to ?? 'rcpt@bench.invalid');
  args.push('-M', 'source.bench.invalid', `127.0.0.1:${options.port}`);

  const started = performance.now();
  const child = spawn(smtpSourcePath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const timer = setTimeout(kill, options.timeoutMs ?? 120_000);

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-2000);
  });

  try {
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      // A signal shows as 128 + its number, as a shell reports it.
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    const seconds = (performance.now() - started) / 1000;
    const rate = exitCode === 0 ? options.messages / seconds : Number.NaN;
    return { messages: options.messages, seconds, rate, exitCode, stderr: stderr.trim() };
  } finally {
    clearTimeout(timer);
    process.off('exit', kill);
  }
}
