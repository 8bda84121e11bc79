/**
 * Parsers for the string forms settings take in environment variables: booleans, lists,
 * sizes and durations. Each returns the parsed value, or `undefined` when the text does not
 * match, so the caller can report the setting's own error message.
 */

const booleans: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  on: true,
  off: false,
  '1': true,
  '0': false,
};

/** true/false, yes/no, on/off, 1/0, in any case. */
export function parseBoolean(text: string): boolean | undefined {
  return booleans[text.trim().toLowerCase()];
}

/** A comma-separated list: items trimmed, empty items dropped. */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** A decimal integer, optionally signed; nothing else (no hex, no exponent, no fraction). */
export function parseInteger(text: string): number | undefined {
  const trimmed = text.trim();
  return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

const sizeUnits: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size in octets: a plain integer, or a number with a unit k, m, g or t, optionally
 * followed by `B` or `iB` (`512k`, `25MB`, `1GiB`, `1.5m`). Units are powers of 1024 whether
 * or not the `i` is written: mail size limits are conventionally binary.
 */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])i?)?b?$/i.exec(text.trim());
  if (!match?.[1]) return undefined;
  const unit = sizeUnits[(match[2] ?? '').toLowerCase()] ?? 1;
  const octets = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(octets) ? octets : undefined;
}

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration in milliseconds: a plain integer (milliseconds), or a number with a unit ms,
 * s, m, h or d (`250ms`, `30s`, `1.5m`, `5d`).
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!match?.[1]) return undefined;
  const unit = match[2];
  // A bare number is milliseconds and must be whole.
  if (unit === undefined && !/^\d+$/.test(match[1])) return undefined;
  const ms = Math.round(Number(match[1]) * (durationUnits[(unit ?? 'ms').toLowerCase()] ?? 1));
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** A server address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, or `[v6 address]:port`; the port 1-65535. */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/i.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}
