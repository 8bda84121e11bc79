/**
 * @module @mailway/config/schema
 *
 * Setting builders (each bound to its environment variable and default) and the fragments
 * every agent shares.
 */
export { setting } from './setting.js';
export { redisSettings, type RedisSettings, spoolSettings, failedRetentionSetting, traceRetentionSetting, logSettings, httpSettings, tlsSettings, authFailureSettings, connectionLimitSettings, connectionLimitEnv, hostnameSetting, authservIdsSetting, hopCountLimitSetting, inflowSettings, logLevels, type LogLevel } from './fragments.js';
export { type HostPort, parseBoolean, parseBytes, parseDuration, parseHostPort, parseInteger, parseList } from './units.js';
