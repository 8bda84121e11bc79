/**
 * Supervises the agents the way Postfix's master does: each runs as its own process; one that
 * dies is started again after a pause that doubles with each quick failure (1 s up to 30 s, back
 * to 1 s once it has stayed up for a minute). An agent that exits with 78 (invalid
 * configuration) is not restarted: the whole stack stops and says why. stop() sends SIGTERM to
 * every agent (they finish sessions and jobs in flight) and SIGKILL after the grace period.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type AgentCommand, type AgentName } from './agents.js';

/** Exit status of an agent whose configuration is invalid (EX_CONFIG). */
const configError = 78;
const stableAfterMs = 60_000;

export interface SupervisedAgent {
  readonly name: AgentName;
  readonly command: AgentCommand;
}

export interface SupervisorEvents {
  /** A line for the operator. */
  readonly notice: (text: string) => void;
  /** The stack cannot run (an agent's configuration is invalid). */
  readonly fatal: (text: string) => void;
}

export class Supervisor {
  private readonly children = new Map<AgentName, ChildProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly agents: readonly SupervisedAgent[],
    private readonly env: Record<string, string>,
    private readonly events: SupervisorEvents,
  ) {}

  /** Start every agent. */
  start(): void {
    for (const agent of this.agents) this.launch(agent, 1_000);
  }

  /** The pid of each running agent. */
  pids(): Partial<Record<AgentName, number>> {
    const pids: Partial<Record<AgentName, number>> = {};
    for (const [name, child] of this.children) if (child.pid !== undefined) pids[name] = child.pid;
    return pids;
  }

  /** Stop every agent: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 60_000): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearTimeout(timer);
    const exits = [...this.children.values()].map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      return exited.then(() => clearTimeout(killer));
    });
    await Promise.all(exits);
  }

  private launch(agent: SupervisedAgent, backoffMs: number): void {
    const { command, args, cwd } = agent.command;
    // Own process group: Ctrl-C in the terminal reaches the supervisor only, which stops agents in order.
    const child = spawn(command, args, { cwd, env: this.env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    const startedAt = Date.now();
    this.children.set(agent.name, child);
    child.once('error', (error) => this.events.notice(`${agent.name}: could not start: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (code === configError) {
        this.events.fatal(`${agent.name}: invalid configuration (see the lines above); not restarting`);
        return;
      }
      // A process that stayed up a while gets a quick restart; one that keeps dying waits longer.
      const delay = Date.now() - startedAt > stableAfterMs ? 1_000 : backoffMs;
      this.events.notice(`${agent.name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.stopping) this.launch(agent, Math.min(delay * 2, 30_000));
      }, delay);
      this.timers.add(timer);
    });
  }
}
