/**
 * @module @mailway/config/schema
 *
 * Setting builders (each bound to its environment variable and default) and the fragments
 * every agent shares.
 */
export { setting } from './setting.js';
export { redisSettings, spoolSettings, failedRetentionSetting, traceRetentionSetting, logSettings, httpSettings, tlsSettings, authFailureSettings, connectionLimitSettings, connectionLimitEnv, hostnameSetting, authservIdsSetting, hopCountLimitSetting, logLevels, type LogLevel } from './fragments.js';
export { parseBoolean, parseBytes, parseDuration, parseInteger, parseList } from './units.js';
