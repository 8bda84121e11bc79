/**
 * Runs a TypeScript fixture in a child Node process (through tsx, with workspace packages
 * resolved to their sources) and follows its output line by line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('../..', import.meta.url));

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Fixture {
  readonly process: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Stdout lines that parse as JSON (log records). */
  records(): Record<string, unknown>[];
  stderr(): string;
  /** Resolves with the first stdout line matching, past or future; rejects if the process exits first. */
  waitFor(match: (line: string) => boolean): Promise<string>;
  /** The first log record whose msg matches. */
  waitForLog(msg: string | RegExp): Promise<Record<string, unknown>>;
  readonly exited: Promise<Exit>;
}

/** Starts `test/fixtures/<name>.ts` with extra environment variables. */
export function startFixture(name: string, env: Record<string, string> = {}): Fixture {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@mailway/source', `test/fixtures/${name}.ts`], {
    cwd: packageDir,
    env: { ...process.env, MAILWAY_CONFIG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const lines: string[] = [];
  let stderr = '';
  let pending = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const waitFor = (match: (line: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = lines.find(match);
        if (found === undefined) return;
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
      void exited.then((exit) => {
        check();
        if (waiters.delete(check)) reject(new Error(`fixture exited (${exit.code ?? exit.signal}) first; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      });
    });

  const records = () => lines.flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as Record<string, unknown>] : []));
  const matches = (msg: string | RegExp, value: unknown) => typeof value === 'string' && (typeof msg === 'string' ? value === msg : msg.test(value));
  return {
    process: child,
    lines,
    records,
    stderr: () => stderr,
    waitFor,
    waitForLog: async (msg) => {
      const line = await waitFor((l) => l.startsWith('{') && matches(msg, (JSON.parse(l) as { msg?: unknown }).msg));
      return JSON.parse(line) as Record<string, unknown>;
    },
    exited,
  };
}
