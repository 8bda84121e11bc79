/**
 * The single-machine ("local") layout `mailway start` uses: a state folder, the local Redis,
 * and unprivileged default ports for every agent. Each default yields to a variable already set
 * in the environment, so any port or path can be overridden; production deployments use the
 * standard ports (587, 465, 25, 24) through each agent's own settings.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { type RedisSettings, redisSettings } from '@mailway/config/schema';
import { loadConfig } from '@mailway/config/load';

/** Where `mailway start` keeps its Redis data and the mailboxes. */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MAILWAY_HOME ?? '.mailway');
}

/** Port of the redis-server `mailway start` runs when REDIS_URL is not set. */
export function localRedisPort(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.MAILWAY_LOCAL_REDIS_PORT ?? 6380);
}

/** The Redis every command talks to: REDIS_URL, or the local one. */
export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.REDIS_URL ?? `redis://127.0.0.1:${localRedisPort(env)}`;
}

/**
 * The Redis every command talks to, as the agents read it (REDIS_SENTINELS and the rest,
 * validated: a ConfigError names the variable at fault), with the local Redis as the default
 * URL. Sentinels or cluster nodes set: the stack's Redis is theirs, never a local one.
 */
export function redisSettingsOf(env: NodeJS.ProcessEnv = process.env): RedisSettings {
  return loadConfig(z.object({ redis: redisSettings }), { env: { ...env, REDIS_URL: redisUrl(env) }, file: null }).redis;
}

/** Whether `mailway start` uses a Redis given to it (REDIS_URL, sentinels or a cluster) rather than its own. */
export function redisGiven(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.REDIS_URL !== undefined || (env.REDIS_SENTINELS ?? '') !== '' || (env.REDIS_CLUSTER_NODES ?? '') !== '';
}

/** Local-mode defaults for the agents' settings (see each agent's README). */
export function localDefaults(state: string): Record<string, string> {
  return {
    MAILWAY_HOSTNAME: 'localhost',
    SUBMISSION_HOST: '127.0.0.1',
    SUBMISSION_PORT: '5870',
    SUBMISSION_TLS_PORT: '4650',
    SUBMISSION_HTTP_PORT: '9091',
    RELAY_HOST: '127.0.0.1',
    RELAY_PORT: '2525',
    // On-Demand Mail Relay (listening only when RELAY_ODMR_USERS is set).
    RELAY_ODMR_PORT: '3660',
    RELAY_HTTP_PORT: '9092',
    DELIVERY_LMTP_HOST: '127.0.0.1',
    DELIVERY_LMTP_PORT: '2424',
    DELIVERY_HTTP_PORT: '9093',
    DELIVERY_MAILBOX_ROOT: resolve(state, 'mail'),
  };
}

/** `defaults` overlaid with whatever the environment already sets. */
export function withDefaults(defaults: Record<string, string>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) merged[key] = value;
  for (const [key, value] of Object.entries(defaults)) merged[key] ??= value;
  return merged;
}
