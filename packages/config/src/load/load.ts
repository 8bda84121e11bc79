/**
 * Loads an agent's configuration once, at start-up.
 *
 * Reads: the optional JSON file (`MAILWAY_CONFIG` or `options.file`) and the environment
 * variable bound to each setting. Environment wins over the file; the file wins over the
 * default. Emits: the typed config, or one ConfigError listing every bad key.
 *
 * A variable set to '' counts as set (an empty prefix is a real choice); only
 * `setting.optionalString` reads '' as unset. Keys in the file that the schema does not
 * declare are errors, so that a misspelt key is never silently ignored.
 */
import type { z } from 'zod';
import { type ConfigIssue, type ConfigSource, ConfigError, isSecret } from './error.js';
import { type FileValues, isPlainObject, readConfigFile } from './file.js';
import { acceptsUnknownKeys, envName, objectOf } from './walk.js';

export interface LoadOptions {
  /** Environment to read; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** JSON config file; default `env.MAILWAY_CONFIG`; null for none. */
  file?: string | null;
}

type Env = Record<string, string | undefined>;

/** What the overlay learnt besides the input itself. */
interface Overlay {
  readonly env: Env;
  /** Dotted key → where its value came from (keys absent here use their default). */
  readonly sources: Map<string, ConfigSource>;
  /** Dotted key → bound environment variable. */
  readonly envs: Map<string, string>;
  /** File keys the schema does not declare. */
  readonly unknown: string[];
}

/** Builds, validates and returns the config described by `schema`; throws ConfigError. */
export function loadConfig<S extends z.ZodType>(schema: S, options: LoadOptions = {}): z.infer<S> {
  const env = options.env ?? process.env;
  const file = options.file === undefined ? env['MAILWAY_CONFIG'] || null : options.file || null;
  const fileValues: FileValues = file === null ? {} : readConfigFile(file);

  // Overlay the environment on the file.
  const overlay: Overlay = { env, sources: new Map(), envs: new Map(), unknown: [] };
  const input = build(schema, fileValues, [], overlay);

  // Validate once; report every issue.
  const result = schema.safeParse(input, { error: friendlyMessage });
  const issues = result.success ? [] : result.error.issues.flatMap((issue) => toConfigIssues(issue, overlay));
  for (const key of overlay.unknown) issues.push({ key, env: null, source: 'file', message: 'unknown key' });
  if (issues.length > 0 || !result.success) throw new ConfigError(dedupe(issues), file);
  return result.data;
}

/** The value for one schema node: the file's value with bound environment variables laid over it. */
function build(schema: z.ZodType, fileValue: unknown, path: readonly string[], overlay: Overlay): unknown {
  const key = path.join('.');

  // A bound setting: the environment, else the file, else (undefined) its default.
  const env = envName(schema);
  if (env !== null) {
    overlay.envs.set(key, env);
    const value = overlay.env[env];
    if (value !== undefined) overlay.sources.set(key, 'env');
    else if (fileValue !== undefined) overlay.sources.set(key, 'file');
    return value ?? fileValue;
  }

  // Anything but an object the file gave: passed on for the schema to judge.
  const object = objectOf(schema);
  if (object === null || (fileValue !== undefined && !isPlainObject(fileValue))) {
    if (fileValue !== undefined) overlay.sources.set(key, 'file');
    return fileValue;
  }

  // An object: its declared keys built in turn, undeclared file keys noted.
  const given = fileValue ?? {};
  const result: Record<string, unknown> = { ...given };
  const shape = object.shape as Record<string, z.ZodType>;
  for (const name of Object.keys(given)) {
    if (!(name in shape) && !acceptsUnknownKeys(object)) overlay.unknown.push([...path, name].join('.'));
  }
  for (const [name, child] of Object.entries(shape)) {
    const value = build(child, given[name], [...path, name], overlay);
    if (value === undefined) delete result[name];
    else result[name] = value;
  }
  // An optional section nobody set stays absent rather than becoming {}.
  const optional = schema._zod.optin === 'optional';
  return optional && fileValue === undefined && Object.keys(result).length === 0 ? undefined : result;
}

/** Plain-language messages for zod's generic issues (builders carry their own). */
function friendlyMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    if (issue.input === undefined) return 'required but not set';
    return `expected ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
  }
  if (issue.code === 'unrecognized_keys') return 'unknown key';
  return undefined;
}

/** One zod issue as ConfigIssues (an unknown-keys issue names each key). */
function toConfigIssues(issue: z.core.$ZodIssue, overlay: Overlay): ConfigIssue[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((name) => ({ key: [...path, name].join('.'), env: null, source: 'file', message: 'unknown key' }));
  }
  const key = path.join('.');
  const env = overlay.envs.get(key) ?? null;
  const source = sourceOf(key, overlay.sources);
  const given = source === 'env' && env !== null ? overlay.env[env] : undefined;
  const value = given !== undefined && env !== null && isSecret(env) ? '***' : given;
  return [{ key, env, source, message: issue.message, ...(value === undefined ? {} : { value }) }];
}

/** Where a key's value came from; for a section, the environment if any of it did, else the file. */
function sourceOf(key: string, sources: ReadonlyMap<string, ConfigSource>): ConfigSource {
  const own = sources.get(key);
  if (own !== undefined) return own;
  const below = [...sources].filter(([k]) => key === '' || k.startsWith(`${key}.`)).map(([, source]) => source);
  if (below.includes('env')) return 'env';
  if (below.includes('file')) return 'file';
  return 'default';
}

/** Drops repeated issues (a strict object and the overlay both report an unknown key). */
function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const id = `${issue.key}\n${issue.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
