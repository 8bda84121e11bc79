/**
 * An agent's process entry point: its configuration loaded (start-up stops, naming the key, on
 * a bad value), its log level and metrics endpoint taken from that configuration, and a minute
 * for a graceful stop on SIGTERM — the same for every Mailway agent.
 */
import { type AgentContext, type RunningAgent, runAgent } from '@mailway/runtime';

/** What every agent's configuration has for its process. */
export interface ProcessSettings {
  readonly log: { readonly level: string };
  readonly http: { host: string; port: number };
}

/** Runs the agent `name`: `load` its configuration, then `start` it. */
export function runAgentMain<C extends ProcessSettings>(name: string, load: () => C, start: (config: C, context: AgentContext) => Promise<RunningAgent>): Promise<void> {
  return runAgent({
    name,
    loadConfig: load,
    logLevel: (config) => config.log.level,
    http: (config) => config.http,
    start,
    shutdownTimeoutMs: 60_000,
  });
}
