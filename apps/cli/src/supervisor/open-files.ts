/**
 * The open-file limit `mailway start` gives the agents. Every connection holds a descriptor and
 * each agent sizes its session cap from its limit, so the usual soft limit of 1024 would cap a
 * relay at under 900 sessions. An unprivileged process may raise its soft limit up to its hard
 * one; the CLI does so for each agent by starting it through util-linux `prlimit`, which sets
 * the limit and then runs the agent in the same process (same pid, signals reach it unchanged).
 *
 * Reads: this process's limit (/proc/self/limits), whether `prlimit` runs. Emits: the command
 * that starts an agent, and a note for the operator when the limit cannot be raised.
 */
import { spawnSync } from 'node:child_process';
import { type OpenFileLimit, readOpenFileLimit } from '@mailway/runtime';
import type { AgentCommand } from './agents.js';

/** Raised no further than this, even under a higher hard limit. */
const ceiling = 1_048_576;

export interface RaisedCommand {
  readonly command: AgentCommand;
  /** Why the limit stays as it is, for the operator; null when raised or already high. */
  readonly note: string | null;
}

/** Is util-linux `prlimit` on PATH? */
export function hasPrlimit(): boolean {
  const probe = spawnSync('prlimit', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0;
}

/** `command`, started with its soft open-file limit raised to the hard one where possible. */
export function withRaisedOpenFiles(command: AgentCommand, limit: OpenFileLimit | null = readOpenFileLimit(), prlimit: boolean = hasPrlimit()): RaisedCommand {
  if (limit === null) return { command, note: 'open-file limit unknown on this system; the agents keep the one they inherit (raise it with ulimit -n)' };
  const target = Math.min(limit.hard, ceiling);
  if (limit.soft >= target) return { command, note: null };
  if (!prlimit) return { command, note: `prlimit not found: the agents keep this shell's open-file limit of ${limit.soft} (raise it with ulimit -n ${target} before mailway start)` };
  return {
    command: { command: 'prlimit', args: [`--nofile=${target}:${Number.isFinite(limit.hard) ? limit.hard : 'unlimited'}`, '--', command.command, ...command.args], cwd: command.cwd },
    note: null,
  };
}
