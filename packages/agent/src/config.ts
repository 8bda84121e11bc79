/**
 * The configuration every agent shares, composed into each agent's schema beside its own
 * section: its Redis, how long failed jobs stay, its log, its HTTP endpoint for metrics and
 * health (`<PREFIX>_HTTP_HOST`, `<PREFIX>_HTTP_PORT`); and the directory seed of the agents
 * that apply one. The spool's fragment is @mailway/config's `spoolSettings`.
 */
import { failedRetentionSetting, httpSettings, logSettings, redisSettings, setting } from '@mailway/config/schema';

/** The top-level settings of an agent whose variables start with `prefix` and whose endpoint listens on `httpPort` by default. */
export function agentSettings(prefix: string, httpPort: number) {
  return {
    redis: redisSettings,
    failedRetention: failedRetentionSetting,
    log: logSettings,
    http: httpSettings(prefix, httpPort),
  };
}

/** Directory seed (JSON) applied at start-up, for config-as-code setups. */
export const directorySeedSetting = setting.optionalString('MAILWAY_DIRECTORY_SEED');
