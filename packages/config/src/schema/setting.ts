/**
 * Setting builders: each declares one setting with its default and the environment variable
 * that sets it (zod metadata `{ env }`), in one expression.
 *
 * Every builder accepts the string form an environment variable gives (`'25MB'`, `'yes'`,
 * `'a, b'`) and the native JSON form a config file gives (`26214400`, `true`, `["a","b"]`),
 * and reports a bad value with one short message saying what was expected.
 */
import { z } from 'zod';
import { type HostPort, parseBoolean, parseBytes, parseDuration, parseHostPort, parseInteger, parseList } from './units.js';

/** Binds a schema to its environment variable and default. */
function bound<T>(env: string, schema: z.ZodType<T>, fallback: T): z.ZodType<T> {
  // No builder's T includes undefined; zod's NoUndefined<T> cannot see that for a generic T.
  return schema.default(fallback as never).meta({ env });
}

/** Runs `parse` on string input only; a non-match passes the text on for the schema to reject. */
function fromText<T>(parse: (text: string) => unknown, schema: z.ZodType<T>): z.ZodType<T> {
  return z.preprocess((value) => (typeof value === 'string' ? (parse(value) ?? value) : value), schema);
}

/** The message for a value that is not an integer within the range. */
function integerMessage(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `expected an integer from ${min} to ${max}`;
  if (min !== undefined) return `expected an integer of at least ${min}`;
  if (max !== undefined) return `expected an integer of at most ${max}`;
  return 'expected an integer';
}

/** An integer schema within an optional range, with one message for every failure. */
function integer(range: { min?: number; max?: number }, error: string): z.ZodNumber {
  let schema = z.number({ error }).int();
  if (range.min !== undefined) schema = schema.min(range.min);
  if (range.max !== undefined) schema = schema.max(range.max);
  return schema;
}

export const setting = {
  /** Any string, taken as given ('' included). */
  string(env: string, fallback: string): z.ZodType<string> {
    return bound(env, z.string({ error: 'expected a string' }), fallback);
  },

  /** A string with no default; '' (and null in the file) count as unset. */
  optionalString(env: string): z.ZodType<string | undefined> {
    const schema = z.preprocess((value) => (value === '' || value === null ? undefined : value), z.string({ error: 'expected a string' }).optional());
    return schema.meta({ env });
  },

  /** A decimal integer, optionally bounded (inclusive). */
  int(env: string, fallback: number, range: { min?: number; max?: number } = {}): z.ZodType<number> {
    return bound(env, fromText(parseInteger, integer(range, integerMessage(range.min, range.max))), fallback);
  },

  /** A TCP port; 0 asks the system for any free port (useful in tests). */
  port(env: string, fallback: number): z.ZodType<number> {
    return bound(env, fromText(parseInteger, integer({ min: 0, max: 65535 }, 'expected a port number 0-65535')), fallback);
  },

  /** true/false, yes/no, on/off or 1/0, in any case; anything else is an error. */
  bool(env: string, fallback: boolean): z.ZodType<boolean> {
    return bound(env, fromText(parseBoolean, z.boolean({ error: 'expected true or false (or yes/no, on/off, 1/0)' })), fallback);
  },

  /** A comma-separated list in the environment, an array of strings in the file. */
  list(env: string, fallback: string[]): z.ZodType<string[]> {
    const error = 'expected a comma-separated list (an array of strings in the file)';
    // One message for the whole list, rather than one per bad element.
    const isList = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'string');
    return bound(env, fromText(parseList, z.custom<string[]>(isList, { error })), fallback);
  },

  /** An integer with no default, optionally bounded; '' (and null in the file) count as unset. */
  optionalInt(env: string, range: { min?: number; max?: number } = {}): z.ZodType<number | undefined> {
    const unset = (value: unknown) => (value === '' || value === null ? undefined : value);
    const schema = z.preprocess((value) => (typeof value === 'string' ? (parseInteger(value) ?? unset(value)) : unset(value)), integer(range, integerMessage(range.min, range.max)).optional());
    return schema.meta({ env });
  },

  /**
   * Servers as `host:port`, comma-separated in the environment (an array of such strings in the
   * file); an IPv6 address in brackets (`[::1]:26379`).
   */
  hostPorts(env: string, fallback: HostPort[]): z.ZodType<HostPort[]> {
    const error = 'expected host:port, comma-separated (an IPv6 address as [::1]:26379)';
    const parse = (value: unknown) => {
      const items = typeof value === 'string' ? parseList(value) : value;
      if (!Array.isArray(items)) return value;
      const parsed = items.map((item) => (typeof item === 'string' ? parseHostPort(item) : undefined));
      return parsed.every((item) => item !== undefined) ? parsed : value;
    };
    const isHostPorts = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null && 'host' in item && 'port' in item);
    return bound(env, z.preprocess(parse, z.custom<HostPort[]>(isHostPorts, { error })), fallback);
  },

  /** One of a fixed set of words; the environment's spelling may differ in case. */
  oneOf<T extends string>(env: string, values: readonly T[], fallback: T): z.ZodType<T> {
    const canonical = (text: string) => values.find((value) => value.toLowerCase() === text.trim().toLowerCase());
    const schema = z.enum(values, { error: `expected one of ${values.join(', ')}` });
    return bound(env, fromText(canonical, schema), fallback);
  },

  /** A size in octets: `25MB`, `512k`, `1GiB` or a plain integer; k/m/g/t are powers of 1024. */
  bytes(env: string, fallback: number): z.ZodType<number> {
    const error = 'expected a size such as 25MB, 512k, 1GiB or a number of octets';
    return bound(env, fromText(parseBytes, integer({ min: 0 }, error)), fallback);
  },

  /**
   * A duration in milliseconds: `250ms`, `30s`, `5m`, `1h`, `2d` or a plain integer of ms; `min`
   * (written the same way, e.g. '1s') is the shortest allowed, and is named in the message.
   */
  duration(env: string, fallback: number, range: { min?: string } = {}): z.ZodType<number> {
    const least = range.min === undefined ? 0 : parseDuration(range.min);
    if (least === undefined) throw new Error(`${env}: minimum ${JSON.stringify(range.min)} is not a duration`);
    const error = `expected a duration${range.min === undefined ? '' : ` of at least ${range.min}`} such as 250ms, 30s, 5m, 1h, 2d or a number of milliseconds`;
    return bound(env, fromText(parseDuration, integer({ min: least }, error)), fallback);
  },
};
