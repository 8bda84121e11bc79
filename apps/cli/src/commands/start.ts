/**
 * `mailway start`: the whole stack on one machine. Starts a local redis-server unless REDIS_URL,
 * REDIS_SENTINELS or REDIS_CLUSTER_NODES is set, then the submission, relay and delivery agents,
 * all as supervised child processes (restarted when they die, each restart said on stderr) with
 * the local-mode defaults and their open-file limit raised to the hard limit (see
 * open-files.ts), prints where everything listens and where mail is stored, and on
 * SIGTERM/SIGINT (or `mailway stop`) stops the agents (they finish their work) and then Redis.
 * A run file in the state folder (run-file.ts) lets `mailway status` and `mailway stop` find
 * the stack.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AdminServer } from '@mailway/admin/http';
import { localDefaults, localRedisPort, redisGiven, stateDir, withDefaults } from '../local.js';
import { adminConfig, serveAdmin } from './admin.js';
import { agentCommand, agentNames, spawnAgent } from '../supervisor/agents.js';
import { type LocalRedis, startLocalRedis } from '../supervisor/redis.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { withRaisedOpenFiles } from '../supervisor/open-files.js';
import { healthAddress, readRunFile, removeRunFile, writeRunFile } from '../supervisor/run-file.js';

const say = (text: string): void => void process.stderr.write(`mailway: ${text}\n`);

/** Run until a signal (or a fatal configuration error). */
export async function start(): Promise<number> {
  const state = stateDir();
  // The admin API's settings first: a port without a token stops everything before it starts.
  const admin = adminConfig(process.env);
  await mkdir(state, { recursive: true });
  const running = await readRunFile(state);
  if (running !== null) {
    say(`already running in ${state} (pid ${running.pid}, since ${running.startedAt}); \`mailway stop\` first, or set MAILWAY_HOME for another stack`);
    return 1;
  }

  // Redis: the given one, or our own.
  let redis: LocalRedis | null = null;
  let url = process.env.REDIS_URL;
  if (!redisGiven()) {
    redis = await startLocalRedis(state, localRedisPort(), { notice: say, fatal: say });
    url = redis.url;
  }
  const env = withDefaults({ ...localDefaults(state), ...(url === undefined ? {} : { REDIS_URL: url }) });
  await mkdir(env.DELIVERY_MAILBOX_ROOT ?? join(state, 'mail'), { recursive: true });

  // The agents.
  let fatal = false;
  let wake = (): void => {};
  const done = new Promise<void>((resolve) => (wake = resolve));
  // Each with its open-file limit raised to the hard limit: their session caps are sized from it.
  const commands = agentNames.map((name) => ({ name, ...withRaisedOpenFiles(agentCommand(name, env)) }));
  const note = commands.find((c) => c.note !== null)?.note;
  if (note !== undefined && note !== null) say(note);
  const supervisor = new Supervisor(
    commands.map(({ name, command }) => ({ name, spawn: () => spawnAgent(command, env) })),
    {
      notice: say,
      fatal: (text) => {
        say(text);
        fatal = true;
        wake();
      },
    },
  );
  supervisor.start();
  await writeRunFile(state, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    // Behind sentinels or a cluster there is no one URL: where the agents look, for the reader.
    redisUrl: url ?? redisPlace(env),
    agents: { submission: healthAddress(env, 'SUBMISSION'), relay: healthAddress(env, 'RELAY'), delivery: healthAddress(env, 'DELIVERY') },
  });
  let adminServer: AdminServer | null = null;
  try {
    adminServer = await serveAdmin(adminConfig(env));
  } catch (error) {
    say(`admin API not started: ${error instanceof Error ? error.message : String(error)}`);
    fatal = true;
    wake();
  }
  printPlan(env, state, redis, adminServer === null ? null : `http://${admin.admin.host}:${adminServer.port}/`);

  // Until told to stop.
  const onSignal = (signal: NodeJS.Signals): void => {
    say(`${signal}: stopping (agents finish what they are doing)`);
    wake();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  await done;
  await adminServer?.close();
  await supervisor.stop();
  await redis?.stop();
  await removeRunFile(state, process.pid);
  say('stopped');
  return fatal ? 1 : 0;
}

function printPlan(env: Record<string, string>, state: string, redis: LocalRedis | null, admin: string | null): void {
  const host = (key: string): string => env[key] ?? '127.0.0.1';
  process.stderr.write(
    [
      '',
      `Mailway is starting (state in ${state})`,
      `  submission  smtp://${host('SUBMISSION_HOST')}:${env.SUBMISSION_PORT} (STARTTLS + AUTH), smtps://${host('SUBMISSION_HOST')}:${env.SUBMISSION_TLS_PORT}   metrics http://${host('SUBMISSION_HTTP_HOST')}:${env.SUBMISSION_HTTP_PORT}/metrics`,
      `  relay       smtp://${host('RELAY_HOST')}:${env.RELAY_PORT} (inbound for local domains)   metrics http://${host('RELAY_HTTP_HOST')}:${env.RELAY_HTTP_PORT}/metrics`,
      ...(env.RELAY_ODMR_USERS ? [`              odmr://${host('RELAY_HOST')}:${env.RELAY_ODMR_PORT} (ATRN for held domains)`] : []),
      `  delivery    lmtp://${host('DELIVERY_LMTP_HOST')}:${env.DELIVERY_LMTP_PORT}   metrics http://${host('DELIVERY_HTTP_HOST')}:${env.DELIVERY_HTTP_PORT}/metrics`,
      `  mailboxes   ${env.DELIVERY_MAILBOX_ROOT}/<domain>/<user>/Maildir`,
      `  redis       ${env.REDIS_SENTINELS ? `primary ${env.REDIS_SENTINEL_NAME ?? '?'} through sentinels ${env.REDIS_SENTINELS}` : env.REDIS_CLUSTER_NODES ? `cluster ${env.REDIS_CLUSTER_NODES}` : env.REDIS_URL}${redis ? ` (local, AOF appendfsync always, data in ${redis.dataDir})` : ''}`,
      ...(admin === null ? [] : [`  admin       ${admin} (dashboard; API under /api, bearer token MAILWAY_ADMIN_TOKEN)`]),
      '',
      'Try it (in another terminal):',
      '  pnpm mailway domain add example.org',
      '  pnpm mailway user add alice@example.org secret',
      '  pnpm mailway send --user alice@example.org --pass secret --to alice@example.org',
      '',
    ].join('\n'),
  );
}

/** Where the sentinels or cluster nodes of `env` are, as `sentinel://…/name` or `cluster://…`. */
function redisPlace(env: Record<string, string>): string {
  if (env.REDIS_SENTINELS) return `sentinel://${env.REDIS_SENTINELS}/${env.REDIS_SENTINEL_NAME ?? ''}`;
  return `cluster://${env.REDIS_CLUSTER_NODES ?? ''}`;
}
