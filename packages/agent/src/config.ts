/**
 * The configuration every agent shares, composed into each agent's schema beside its own
 * section: the host name, the hop limit, its Redis, how long failed jobs stay, how long message traces stay, its log, its HTTP
 * endpoint for metrics and health (`<PREFIX>_HTTP_HOST`, `<PREFIX>_HTTP_PORT`); and the
 * directory seed of the agents that apply one. The spool's fragment is @mailway/config's
 * `spoolSettings`.
 */
import { z } from 'zod';
import { failedRetentionSetting, traceRetentionSetting, hopCountLimitSetting, hostnameSetting, httpSettings, logSettings, redisSettings, setting } from '@mailway/config/schema';

export interface AgentSchemaOptions<Own extends z.ZodRawShape, Top extends z.ZodRawShape> {
  /** Start of the agent's variable names (`RELAY` for `RELAY_HTTP_PORT`). */
  readonly prefix: string;
  /** The HTTP endpoint's default port. */
  readonly httpPort: number;
  /** Top-level settings only some agents read (`authservIds`), after the hop limit. */
  readonly top?: Top;
  /** The agent's own section, last, e.g. `{ relay: relaySettings }`. */
  readonly own: Own;
}

/**
 * An agent's whole schema. The keys keep one order in every agent — host name, hop limit, the
 * agent's extra top-level settings, Redis, failed-job retention, trace retention, log, HTTP, its own section —
 * because a ConfigError lists its problems in that order.
 */
export function agentConfigSchema<Own extends z.ZodRawShape, Top extends z.ZodRawShape = Record<never, never>>(options: AgentSchemaOptions<Own, Top>) {
  return z.object({
    hostname: hostnameSetting,
    hopCountLimit: hopCountLimitSetting,
    ...(options.top ?? ({} as Top)),
    redis: redisSettings,
    failedRetention: failedRetentionSetting,
    traceRetention: traceRetentionSetting,
    log: logSettings,
    http: httpSettings(options.prefix, options.httpPort),
    ...options.own,
  });
}

/** Directory seed (JSON) applied at start-up, for config-as-code setups. */
export const directorySeedSetting = setting.optionalString('MAILWAY_DIRECTORY_SEED');
