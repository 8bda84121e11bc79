/**
 * Where each agent's entry point is: `apps/<agent>/dist/main.js` when built, else its TypeScript
 * source run through tsx. The CLI starts agents by path, as separate processes; it never imports
 * an agent's code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const agentNames = ['submission', 'relay', 'delivery'] as const;
export type AgentName = (typeof agentNames)[number];

/** apps/ in the Mailway tree this CLI belongs to. */
const appsDir = fileURLToPath(new URL('../../../', import.meta.url));

export interface AgentCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/**
 * How to run `name`, with agentNodeFlags; MAILWAY_<NAME>_ENTRY overrides the path of its entry
 * point, and MAILWAY_AGENTS_FROM_SOURCE=1 runs the TypeScript sources even when a build exists.
 */
export function agentCommand(name: AgentName, env: NodeJS.ProcessEnv = process.env): AgentCommand {
  const appDir = join(appsDir, name);
  const flags = agentNodeFlags(env);
  const override = env[`MAILWAY_${name.toUpperCase()}_ENTRY`];
  const built = join(appDir, 'dist', 'main.js');
  if (override !== undefined) return { command: process.execPath, args: [...flags, override], cwd: appDir };
  if (env.MAILWAY_AGENTS_FROM_SOURCE !== '1' && existsSync(built)) return { command: process.execPath, args: [...flags, built], cwd: appDir };
  return { command: process.execPath, args: [...flags, '--import', 'tsx', '--conditions=@mailway/source', join(appDir, 'src', 'main.ts')], cwd: appDir };
}

/**
 * V8's heap settings for agents. An agent's garbage is short-lived (a message's objects live
 * for its milliseconds in the agent) and its live heap small (25-30 MiB), so V8's defaults,
 * made for larger heaps, leave most of an agent's memory to garbage: semi-spaces of 16 MiB (a
 * 32 MiB young generation), and an old generation allowed to grow to up to four times what
 * survived its last collection. With 4 MiB semi-spaces and growth by half, `pnpm bench:e2e`
 * (10,000 messages, 20 clients) measured the stack's peak RSS at 371-378 MiB instead of
 * 547-562, at the same throughput.
 */
export const defaultAgentNodeFlags: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

/** The flags agents run with: MAILWAY_AGENT_NODE_FLAGS (space-separated; empty: Node's defaults) or defaultAgentNodeFlags. */
export function agentNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const given = env.MAILWAY_AGENT_NODE_FLAGS;
  return given === undefined ? [...defaultAgentNodeFlags] : given.split(/\s+/).filter((flag) => flag !== '');
}

/**
 * Process settings every agent gets unless the environment sets them. glibc raises its mmap
 * threshold to the size of the largest block freed so far (up to 32 MiB): after one scrypt
 * (AUTH checks a password with 16 MiB of working memory on each of the thread pool's threads)
 * later ones come from the heap and stay in the process, 60-75 MiB of a submission agent's RSS
 * under load. A fixed threshold returns every such block to the kernel when it is freed.
 */
export const agentProcessDefaults: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** Starts an agent with `env` (over agentProcessDefaults), in its own process group, its output on ours. */
export function spawnAgent(agent: AgentCommand, env: Record<string, string>): ChildProcess {
  return spawn(agent.command, agent.args, { cwd: agent.cwd, env: { ...agentProcessDefaults, ...env }, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
}
