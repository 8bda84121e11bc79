/**
 * Reads the optional JSON config file. Its shape mirrors the schema (`{ "submission": {
 * "port": 587 } }`). Any problem becomes a ConfigError naming the file.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './error.js';

/** A parsed JSON object, as read from a config file. */
export type FileValues = Record<string, unknown>;

/** Is this a JSON object (not an array, not null)? */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads and parses the file; throws ConfigError when it cannot. */
export function readConfigFile(file: string): FileValues {
  const fail = (message: string): never => {
    throw new ConfigError([{ key: '', env: null, source: 'file', message }], file);
  };

  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // "ENOENT: no such file or directory, open '/x'" → "no such file or directory (ENOENT)".
    const reason = message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    fail(`cannot read the file: ${reason}${code ? ` (${code})` : ''}`);
  }

  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    fail(`not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(values)) fail('expected a JSON object at the top level');
  return values as FileValues;
}
