#!/usr/bin/env node
/**
 * mailway: run the whole Mailway stack on one machine and manage it.
 *
 *   mailway start                       submission, relay and delivery, supervised, with a local Redis
 *   mailway status | stop               the running stack: each agent's readiness and the queue; stop it
 *   mailway domain|user|alias …         the directory
 *   mailway send …                      submit a test message
 *   mailway queue list|show|summary|retry|flush|hold|release|delete|bounce   what is still queued, and why; act on it
 *   mailway trace <queue id>           a message's whole path through the agents
 *   mailway admin                      the admin HTTP API and web dashboard
 */
import { adminUsage, runAdminCommand } from './commands/admin.js';
import { runDirectoryCommand, directoryUsage } from './commands/directory.js';
import { runQueueCommand, queueUsage } from './commands/queue.js';
import { send, sendUsage } from './commands/send.js';
import { start } from './commands/start.js';
import { status, statusUsage } from './commands/status.js';
import { stop, stopUsage } from './commands/stop.js';
import { runTraceCommand, traceUsage } from './commands/trace.js';

const usage = `usage:
  mailway start
${statusUsage}
${stopUsage}
${directoryUsage}
${sendUsage}
${queueUsage}
${traceUsage}
${adminUsage}

Environment: REDIS_URL (default: the local Redis of \`mailway start\` on 127.0.0.1:6380),
MAILWAY_HOME (state folder, default ./.mailway), and every agent's own settings.`;

interface Command {
  readonly run: (args: readonly string[]) => Promise<number>;
}

const commands = {
  start: { run: () => start() },
  status: { run: (args) => status(args) },
  stop: { run: (args) => stop(args) },
  domain: { run: (args) => runDirectoryCommand('domain', args) },
  user: { run: (args) => runDirectoryCommand('user', args) },
  alias: { run: (args) => runDirectoryCommand('alias', args) },
  send: { run: (args) => send(args) },
  queue: { run: (args) => runQueueCommand(args) },
  trace: { run: (args) => runTraceCommand(args) },
  admin: { run: () => runAdminCommand() },
  help: { run: async () => (process.stdout.write(`${usage}\n`), 0) },
} satisfies Record<string, Command>;

const [name, ...args] = process.argv.slice(2);
const command = name !== undefined && Object.hasOwn(commands, name) ? commands[name as keyof typeof commands] : undefined;
if (command === undefined) {
  process.stderr.write(`${usage}\n`);
  process.exitCode = 64;
} else {
  try {
    process.exitCode = await command.run(args);
  } catch (error) {
    process.stderr.write(`mailway ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
