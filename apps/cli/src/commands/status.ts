/**
 * `mailway status`: whether the stack of `mailway start` runs, each agent's readiness (its
 * /readyz), and what its queues hold. Exit status as an init script's: 0 running and every agent
 * ready, 1 running with an agent not ready, 3 not running.
 */
import { parseArgs } from 'node:util';
import { type QueueSummary, createQueueAdmin, recipientStates } from '@mailway/queue/admin';
import { withRedis } from '../connection.js';
import { stateDir } from '../local.js';
import { agentNames } from '../supervisor/agents.js';
import { readRunFile } from '../supervisor/run-file.js';

export const statusUsage = '  mailway status [--json]';

export interface AgentStatus {
  readonly name: string;
  readonly address: string;
  /** ready: /readyz said 200; not ready: it answered otherwise; down: nothing answered. */
  readonly state: 'ready' | 'not ready' | 'down';
  /** /readyz's own words, or why it could not be asked. */
  readonly detail: string;
}

export interface StackStatus {
  readonly running: boolean;
  readonly pid?: number;
  readonly startedAt?: string;
  readonly redisUrl?: string;
  readonly agents: readonly AgentStatus[];
  /** Null when Redis could not be read. */
  readonly queue: QueueSummary | null;
  readonly queueError?: string;
}

export async function status(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean', default: false } } });
  const found = await stackStatus();
  if (values.json) process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
  else for (const line of formatStatus(found)) process.stdout.write(`${line}\n`);
  if (!found.running) return 3;
  return found.agents.every((a) => a.state === 'ready') ? 0 : 1;
}

async function stackStatus(): Promise<StackStatus> {
  const state = stateDir();
  const run = await readRunFile(state);
  if (run === null) return { running: false, agents: [], queue: null };
  const agents = await Promise.all(agentNames.map((name) => agentStatus(name, run.agents[name])));
  let queue: QueueSummary | null = null;
  let queueError: string | undefined;
  try {
    queue = await withRedis(async (redis, prefix) => {
      const admin = createQueueAdmin(redis, { prefix });
      try {
        return await admin.summary();
      } finally {
        await admin.close();
      }
    }, run.redisUrl);
  } catch (error) {
    queueError = error instanceof Error ? error.message : String(error);
  }
  return { running: true, pid: run.pid, startedAt: run.startedAt, redisUrl: run.redisUrl, agents, queue, ...(queueError === undefined ? {} : { queueError }) };
}

async function agentStatus(name: string, address: string): Promise<AgentStatus> {
  try {
    const response = await fetch(`${address}/readyz`, { signal: AbortSignal.timeout(3_000) });
    const detail = (await response.text()).trim();
    return { name, address, state: response.ok ? 'ready' : 'not ready', detail };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { name, address, state: 'down', detail: cause ?? (error instanceof Error ? error.message : String(error)) };
  }
}

function formatStatus(s: StackStatus): string[] {
  if (!s.running) return [`mailway is not running (no live run file in ${stateDir()})`];
  const lines = [`mailway is running: pid ${s.pid}, since ${s.startedAt}, Redis ${s.redisUrl}`];
  for (const a of s.agents) lines.push(`  ${a.name.padEnd(10)}  ${a.state.padEnd(9)}  ${a.address}${a.state === 'ready' ? '' : `  (${a.detail})`}`);
  if (s.queue === null) lines.push(`  queue       unknown: ${s.queueError ?? 'Redis not read'}`);
  else lines.push(`  queue       ${s.queue.messages} messages; recipients ${recipientStates.map((state) => `${state} ${s.queue?.recipients[state] ?? 0}`).join(', ')}`);
  return lines;
}
