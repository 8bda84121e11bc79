/**
 * The run file of `mailway start`: `<state>/mailway.run.json`, written once the agents are
 * started and removed when the stack stops. It tells `mailway status` and `mailway stop` which
 * process to talk to, which Redis the stack uses, and where each agent answers /readyz; and it
 * keeps a second `mailway start` on the same state folder from starting beside a live one.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentName } from './agents.js';

export interface RunFile {
  /** The `mailway start` process. */
  readonly pid: number;
  readonly startedAt: string;
  readonly redisUrl: string;
  /** Each agent's health address, e.g. http://127.0.0.1:9092. */
  readonly agents: Readonly<Record<AgentName, string>>;
}

export const runFilePath = (state: string): string => join(state, 'mailway.run.json');

export async function writeRunFile(state: string, run: RunFile): Promise<void> {
  await writeFile(runFilePath(state), `${JSON.stringify(run, null, 2)}\n`, { mode: 0o600 });
}

/** The run file of a live stack; null when there is none, or its process is gone (a stack that was killed). */
export async function readRunFile(state: string): Promise<RunFile | null> {
  let run: RunFile;
  try {
    run = JSON.parse(await readFile(runFilePath(state), 'utf8')) as RunFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${runFilePath(state)} is not a run file: ${error instanceof Error ? error.message : String(error)}`);
  }
  return isAlive(run.pid) ? run : null;
}

/** Removes the run file, if it is still `pid`'s. */
export async function removeRunFile(state: string, pid: number): Promise<void> {
  const current = await readFile(runFilePath(state), 'utf8').catch(() => null);
  if (current !== null && (JSON.parse(current) as RunFile).pid === pid) await rm(runFilePath(state), { force: true });
}

/** Whether a process with this pid exists (signal 0 checks without sending). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where an agent's HTTP listener answers, from the stack's environment: a wildcard address is reached on loopback. */
export function healthAddress(env: Record<string, string>, prefix: string): string {
  const host = env[`${prefix}_HTTP_HOST`] ?? '127.0.0.1';
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${reachable}:${env[`${prefix}_HTTP_PORT`] ?? ''}`;
}
