/**
 * @module @mailway/config
 *
 * Mailway configuration: each setting declared once beside its default and environment
 * variable, composed per agent into one zod schema, loaded from the environment over an
 * optional JSON file, validated once at start-up. Narrow entries: `@mailway/config/schema`
 * (builders and shared fragments) and `@mailway/config/load` (loader and errors).
 */
export { setting, redisSettings, type RedisSettings, logSettings, httpSettings, tlsSettings, hostnameSetting, logLevels, type LogLevel } from './schema/index.js';
export { parseBoolean, parseBytes, parseDuration, parseInteger, parseList } from './schema/index.js';
export { loadConfig, type LoadOptions, ConfigError, type ConfigIssue, type ConfigSource, formatIssue, isSecret, describeSettings } from './load/index.js';
