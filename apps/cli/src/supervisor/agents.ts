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
 * How to run `name`; MAILWAY_<NAME>_ENTRY overrides the path of its entry point, and
 * MAILWAY_AGENTS_FROM_SOURCE=1 runs the TypeScript sources even when a build exists.
 */
export function agentCommand(name: AgentName, env: NodeJS.ProcessEnv = process.env): AgentCommand {
  const appDir = join(appsDir, name);
  const override = env[`MAILWAY_${name.toUpperCase()}_ENTRY`];
  const built = join(appDir, 'dist', 'main.js');
  if (override !== undefined) return { command: process.execPath, args: [override], cwd: appDir };
  if (env.MAILWAY_AGENTS_FROM_SOURCE !== '1' && existsSync(built)) return { command: process.execPath, args: [built], cwd: appDir };
  return { command: process.execPath, args: ['--import', 'tsx', '--conditions=@mailway/source', join(appDir, 'src', 'main.ts')], cwd: appDir };
}

/**
 * Process settings every agent gets unless the environment sets them. glibc raises its mmap
 * threshold to the size of the largest block freed so far (up to 32 MiB): after one scrypt
 * (AUTH checks a password with 16 MiB of working memory on each of the thread pool's threads)
 * later ones come from the heap and stay in the process, 60-75 MiB of a submission agent's RSS
 * under load. A fixed threshold returns every such block to the kernel when it is freed.
 */
export const agentProcessDefaults: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/**
 * The V8 flag every agent gets unless NODE_OPTIONS already sets it: semi-spaces of 4 MiB, not
 * 16. An agent's garbage is short-lived (a message's objects live for its few milliseconds in
 * the agent), so a smaller young generation collects it as well, and each agent stays about 20
 * MiB smaller under load, with the Buffers it drops freed sooner. Measured with `pnpm bench:e2e`
 * (see the root README): the stack's peak RSS 547-562 → 481-508 MiB at the same throughput.
 */
export const agentNodeOptions = '--max-semi-space-size=4';

/** The environment an agent starts with: `env` over agentProcessDefaults, agentNodeOptions added to NODE_OPTIONS. */
export function agentEnvironment(env: Record<string, string>): Record<string, string> {
  const nodeOptions = env.NODE_OPTIONS ?? '';
  const flag = agentNodeOptions.split('=')[0] as string;
  return { ...agentProcessDefaults, ...env, NODE_OPTIONS: nodeOptions.includes(flag) ? nodeOptions : `${nodeOptions} ${agentNodeOptions}`.trim() };
}

/** Starts an agent with agentEnvironment(env), in its own process group, its output on ours. */
export function spawnAgent(agent: AgentCommand, env: Record<string, string>): ChildProcess {
  return spawn(agent.command, agent.args, { cwd: agent.cwd, env: agentEnvironment(env), stdio: ['ignore', 'inherit', 'inherit'], detached: true });
}
