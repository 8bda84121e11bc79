/**
 * @module @mailway/config/load
 *
 * Loading a settings schema from the environment and an optional JSON file, the error that
 * names every bad key, and the list of settings for help and docs.
 */
export { loadConfig, type LoadOptions } from './load.js';
export { ConfigError, type ConfigIssue, type ConfigSource, formatIssue, isSecret } from './error.js';
export { describeSettings } from './describe.js';
