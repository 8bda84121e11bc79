/**
 * MTA-STS (RFC 8461) as text: the `_mta-sts` TXT record, the policy file, and the MX patterns.
 *
 * Reads: the strings of a domain's `_mta-sts.<domain>` TXT records, and the body of its
 * `mta-sts.txt`. Emits: the policy id, a parsed policy, or why there is none; whether an MX
 * host name matches a policy's patterns. No I/O here: discovery and the cache are mta-sts.ts.
 */

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  readonly mode: StsMode;
  /** MX patterns, lower-case, without a trailing dot: `mail.example.com` or `*.example.net`. */
  readonly mx: readonly string[];
  /** Seconds the policy may be cached from its fetch (at most 31557600, one year). */
  readonly maxAge: number;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (a year). */
export const maxPolicyAge = 31_557_600;

/**
 * The policy id from a domain's `_mta-sts` TXT records (RFC 8461 §3.1). Each record is the
 * list of its character-strings, joined without separators. Records that do not start with
 * `v=STSv1;` are someone else's and are ignored; what is left must be exactly one valid record.
 */
export function parseStsRecord(records: ReadonlyArray<readonly string[]>): Parsed<{ id: string }> {
  const texts = records.map((chunks) => chunks.join('')).filter((text) => /^v=STSv1\s*;/.test(text));
  if (texts.length === 0) return fail('no v=STSv1 record');
  if (texts.length > 1) return fail(`${texts.length} v=STSv1 records (exactly one is allowed)`);
  const text = texts[0] as string;

  // Fields after the version, split on ";" with optional white space around it; a final ";" may end the record.
  const fields = text.split(/[ \t]*;[ \t]*/).slice(1);
  if (fields.at(-1) === '') fields.pop();
  let id: string | null = null;
  for (const field of fields) {
    const match = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31})=([\x21-\x3a\x3c\x3e-\x7e]+)$/.exec(field);
    if (match === null) return fail(`malformed field "${field}"`);
    if (match[1] !== 'id') continue;
    if (!/^[A-Za-z0-9]{1,32}$/.test(match[2] as string)) return fail(`malformed id "${match[2]}" (1 to 32 letters and digits)`);
    // The first id counts, as with a policy's fields.
    id ??= match[2] as string;
  }
  if (id === null) return fail('no id field');
  return { ok: true, value: { id } };
}

/**
 * A policy file (RFC 8461 §3.2): `key: value` lines ended by LF or CRLF. `version: STSv1`,
 * `mode` and `max_age` are required, and at least one `mx` unless the mode is `none`. A field
 * other than `mx` given twice counts once, the first time; unknown fields are ignored.
 */
export function parsePolicy(text: string): Parsed<StsPolicy> {
  const fields = new Map<string, string>();
  const mx: string[] = [];
  const lines = text.split(/\r?\n/);
  // A final line ending leaves one empty line behind, which is no field.
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) {
    const match = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (match === null) return fail(`malformed line "${line.slice(0, 80)}"`);
    const [, key = '', value = ''] = match;
    if (key === 'mx') mx.push(value);
    else if (!fields.has(key)) fields.set(key, value);
  }

  // Version and mode.
  const version = fields.get('version');
  if (version !== 'STSv1') return fail(version === undefined ? 'no version field' : `unsupported version "${version}"`);
  const mode = fields.get('mode');
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none') return fail(mode === undefined ? 'no mode field' : `unknown mode "${mode}"`);

  // max_age: 1 to 10 digits, at most a year.
  const age = fields.get('max_age');
  if (age === undefined) return fail('no max_age field');
  if (!/^[0-9]{1,10}$/.test(age)) return fail(`malformed max_age "${age}"`);
  const maxAge = Number(age);
  if (maxAge > maxPolicyAge) return fail(`max_age ${maxAge} is more than ${maxPolicyAge}`);

  // MX patterns: a host name, or "*." and a host name.
  const patterns: string[] = [];
  for (const value of mx) {
    const pattern = value.toLowerCase().replace(/\.$/, '');
    if (!isMxPattern(pattern)) return fail(`malformed mx "${value}"`);
    patterns.push(pattern);
  }
  if (patterns.length === 0 && mode !== 'none') return fail('no mx field');
  return { ok: true, value: { mode, mx: patterns, maxAge } };
}

/**
 * Whether MX host `host` matches `pattern` (RFC 8461 §4.1): the same name, ignoring case and a
 * trailing dot; `*.example.net` matches a name with exactly one more label on the left
 * (`mx1.example.net`), not `example.net` itself nor `a.b.example.net`.
 */
export function mxMatches(pattern: string, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  const wanted = pattern.toLowerCase().replace(/\.$/, '');
  if (!wanted.startsWith('*.')) return name === wanted;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === wanted.slice(2);
}

/** Whether any of `policy`'s patterns matches MX host `host`. */
export function policyAllows(policy: StsPolicy, host: string): boolean {
  return policy.mx.some((pattern) => mxMatches(pattern, host));
}

/** A host name of at least two labels, optionally behind "*." (a wildcard only as the whole leftmost label). */
function isMxPattern(pattern: string): boolean {
  const name = pattern.startsWith('*.') ? pattern.slice(2) : pattern;
  const labels = name.split('.');
  return labels.length >= (pattern.startsWith('*.') ? 2 : 1) && labels.every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$/.test(label));
}

function fail(error: string): { ok: false; error: string } {
  return { ok: false, error };
}
