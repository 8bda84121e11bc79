/**
 * Supervises processes the way Postfix's master does: each runs on its own; one that dies is
 * started again after a pause (see backoff.ts: 250 ms, doubling while it keeps dying, at most
 * 5 s). A process that exits with 78 (EX_CONFIG, invalid configuration) is not restarted: the
 * whole stack stops and says why. stop() sends SIGTERM to every process (agents finish sessions
 * and jobs in flight; redis-server flushes) and SIGKILL after the grace period.
 *
 * Reads: the exits of its children. Emits: one notice per exit ("relay exited (signal SIGKILL);
 * restarting in 250 ms"), and fatal() when a configuration is invalid.
 */
import type { ChildProcess } from 'node:child_process';
import { restartDelay } from './backoff.js';

/** Exit status of a process whose configuration is invalid (EX_CONFIG). */
const configError = 78;

export interface Supervised {
  /** As shown in notices, e.g. `relay` or `redis-server`. */
  readonly name: string;
  /** Starts one instance, in its own process group (Ctrl-C reaches the supervisor only, which stops things in order). */
  readonly spawn: () => ChildProcess;
}

export interface SupervisorEvents {
  /** A line for the operator. */
  readonly notice: (text: string) => void;
  /** The stack cannot run (a configuration is invalid). */
  readonly fatal: (text: string) => void;
}

export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;

  constructor(
    private readonly processes: readonly Supervised[],
    private readonly events: SupervisorEvents,
  ) {}

  /** Start every process. */
  start(): void {
    for (const process of this.processes) this.launch(process, null);
  }

  /** The running instance of `name`, if any. */
  child(name: string): ChildProcess | undefined {
    return this.children.get(name);
  }

  /** The pid of each running process. */
  pids(): Record<string, number> {
    const pids: Record<string, number> = {};
    for (const [name, child] of this.children) if (child.pid !== undefined) pids[name] = child.pid;
    return pids;
  }

  /** Stop every process: SIGTERM, then SIGKILL after `graceMs`. */
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

  private launch(supervised: Supervised, previousDelayMs: number | null): void {
    const child = supervised.spawn();
    const startedAt = Date.now();
    this.children.set(supervised.name, child);
    child.once('error', (error) => this.events.notice(`${supervised.name}: could not start: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      if (code === configError) {
        this.events.fatal(`${supervised.name}: invalid configuration (see the lines above); not restarting`);
        return;
      }
      const delay = restartDelay(previousDelayMs, Date.now() - startedAt);
      this.events.notice(`${supervised.name} exited (${signal === null ? `code ${code}` : `signal ${signal}`}); restarting in ${delay} ms`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!this.stopping) this.launch(supervised, delay);
      }, delay);
      this.timers.add(timer);
    });
  }
}
