/**
 * An agent as a process, started from its entry point (`src/main.ts` through tsx, or the built
 * `dist/main.js`) the way operators run it, optionally under a lower open-file limit (util-linux
 * `prlimit`).
 *
 * Reads: the app's folder and the environment to give it (on top of PATH only). Emits: the child,
 * its exit code, what it wrote, and its JSON log records as they appear.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  readonly stderr: () => string;
  readonly stdout: () => string;
}

/**
 * Runs `appDir/src/main.ts` with `env` (with `built`, `appDir/dist/main.js` on plain node, as a
 * production bundle runs); with `openFiles`, under `prlimit --nofile=N:N`.
 */
export function startAgentMain(appDir: string, env: Record<string, string>, options: { openFiles?: number; built?: boolean } = {}): AgentProcess {
  const node = options.built === true ? [process.execPath, 'dist/main.js'] : [process.execPath, '--import', 'tsx', '--conditions=@mailway/source', 'src/main.ts'];
  const [command = process.execPath, ...args] = options.openFiles === undefined ? node : ['prlimit', `--nofile=${options.openFiles}:${options.openFiles}`, '--', ...node];
  const child = spawn(command, args, { cwd: appDir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => stderr, stdout: () => stdout };
}

/** The first log record with message `msg`, once it has been logged; throws with the output after `timeoutMs`. */
export async function logged(started: AgentProcess, msg: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = started.stdout().split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    if (line) return JSON.parse(line) as Record<string, unknown>;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no "${msg}" log line: ${started.stderr()}${started.stdout()}`);
}
