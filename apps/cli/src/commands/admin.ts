/**
 * The admin HTTP API and web dashboard (@mailway/admin): served by `mailway start` beside the
 * agents when MAILWAY_ADMIN_PORT is set, or alone by `mailway admin` against REDIS_URL. Either
 * refuses to start with a port and no token (MAILWAY_ADMIN_TOKEN).
 *
 * Reads: MAILWAY_ADMIN_HOST/PORT/TOKEN, the spool settings, MAILWAY_HOSTNAME and
 * RELAY_BOUNCE_RETURN_LIMIT (notices are written as the relay writes them),
 * MAILWAY_TRACE_RETENTION. Emits: pino lines (`admin API listening`, one per action).
 */
import { z } from 'zod';
import { adminSettings } from '@mailway/admin/config';
import type { AdminServer } from '@mailway/admin/http';
import { loadConfig } from '@mailway/config';
import { hostnameSetting, logSettings, redisSettings, setting, spoolSettings, traceRetentionSetting } from '@mailway/config/schema';
import { createRedis, waitForRedis } from '@mailway/queue/redis';
import { createFsSpool, createRedisSpool } from '@mailway/queue/spool';
import { redisUrl } from '../local.js';

export const adminUsage = '  mailway admin                      the admin API and dashboard alone (MAILWAY_ADMIN_PORT, MAILWAY_ADMIN_TOKEN)';

const schema = z.object({
  hostname: hostnameSetting,
  redis: redisSettings,
  traceRetention: traceRetentionSetting,
  log: logSettings,
  spool: spoolSettings,
  returnLimit: setting.bytes('RELAY_BOUNCE_RETURN_LIMIT', 100 * 1024),
  admin: adminSettings,
});

/** The admin configuration from `env`; throws ConfigError naming the key at fault. */
export function adminConfig(env: Record<string, string | undefined>): z.infer<typeof schema> {
  return loadConfig(schema, { env: { ...env, REDIS_URL: env.REDIS_URL ?? redisUrl(env) } });
}

/** Starts the admin server when the configuration asks for one; null when it does not. */
export async function serveAdmin(config: z.infer<typeof schema>): Promise<AdminServer | null> {
  const { admin } = config;
  if (admin.port === 0 || admin.token === undefined) return null;
  // Loaded only when served: the other commands need no web server.
  const { startAdminServer } = await import('@mailway/admin/http');
  const { createLogger, createMetrics } = await import('@mailway/runtime');
  const logger = createLogger({ name: 'admin', level: config.log.level });
  const redis = createRedis(config.redis.url, { role: 'command', name: 'mailway-admin' });
  redis.on('error', (error: Error) => logger.debug({ err: error }, 'redis error'));
  await waitForRedis(redis);
  const spool = config.spool.backend === 'fs' ? createFsSpool({ directory: config.spool.directory }) : createRedisSpool(redis, { prefix: config.redis.prefix });
  const server = await startAdminServer({
    host: admin.host,
    port: admin.port,
    token: admin.token,
    redis,
    prefix: config.redis.prefix,
    spool,
    notices: { hostname: config.hostname, returnLimit: config.returnLimit },
    traceRetentionMs: config.traceRetention,
    logger,
    metrics: createMetrics('admin'),
  });
  return {
    port: server.port,
    async close() {
      await server.close();
      redis.disconnect();
    },
  };
}

/** `mailway admin`: serve until SIGTERM or SIGINT. */
export async function runAdminCommand(): Promise<number> {
  const config = adminConfig(process.env);
  if (config.admin.port === 0) {
    process.stderr.write('mailway admin: set MAILWAY_ADMIN_PORT (and MAILWAY_ADMIN_TOKEN)\n');
    return 64;
  }
  const server = await serveAdmin(config);
  process.stderr.write(`mailway: admin API and dashboard on http://${config.admin.host}:${server?.port}/\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server?.close();
  return 0;
}
