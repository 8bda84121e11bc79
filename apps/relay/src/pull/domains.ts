/**
 * The domains whose sites pull their mail (RELAY_HOLD_DOMAINS): mail for them is queued but not
 * tried until the site asks, by ETRN (RFC 1985) or ODMR (RFC 2645). An entry `example.com` names
 * that domain; `.example.com` names every domain below it (as Postfix writes parent domains).
 * And who may pull what over ODMR (RELAY_ODMR_USERS): `user=domain|domain`.
 *
 * Reads: the configured entries. Emits: whether a domain is held, which held domains an ETRN
 * node names, which a user may pull; parse errors name the bad entry.
 */

export interface HoldDomains {
  /** True when mail for `domain` (lower-case, A-labels) waits for its site. */
  holds(domain: string): boolean;
  /** True when no domain is held. */
  readonly empty: boolean;
}

/** A host name in A-labels: LDH labels, at least two. */
const domainPattern = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Checks one domain name (A-labels, lower-case after folding); throws naming it. */
export function parseDomain(text: string): string {
  const domain = text.trim().toLowerCase().replace(/\.$/, '');
  if (!domainPattern.test(domain)) throw new Error(`not a domain name: ${JSON.stringify(text)} (expected A-labels, e.g. example.com or xn--bcher-kva.example)`);
  return domain;
}

/** Parses RELAY_HOLD_DOMAINS entries; throws naming the bad one. */
export function parseHoldDomains(entries: readonly string[]): HoldDomains {
  const exact = new Set<string>();
  const parents: string[] = [];
  for (const entry of entries) {
    const trimmed = entry.trim();
    if (trimmed.startsWith('.')) parents.push(parseDomain(trimmed.slice(1)));
    else exact.add(parseDomain(trimmed));
  }
  return {
    empty: exact.size === 0 && parents.length === 0,
    holds: (domain) => exact.has(domain) || parents.some((parent) => domain.endsWith(`.${parent}`)),
  };
}

/**
 * The domains an ETRN node (RFC 1985 §3) names among `queued`: `example.com` that domain only,
 * `@example.com` it and every domain below it.
 */
export function nodeMatcher(node: string): (domain: string) => boolean {
  if (node.startsWith('@')) {
    const parent = node.slice(1).toLowerCase();
    return (domain) => domain === parent || domain.endsWith(`.${parent}`);
  }
  const name = node.toLowerCase();
  return (domain) => domain === name;
}

/** Who may pull which domains over ODMR: user (lower-case) → domains. */
export type PullGrants = ReadonlyMap<string, ReadonlySet<string>>;

/** Parses RELAY_ODMR_USERS entries `user=domain|domain`; throws naming the bad entry. */
export function parsePullGrants(entries: readonly string[], holds: HoldDomains): PullGrants {
  const grants = new Map<string, Set<string>>();
  for (const entry of entries) {
    const equals = entry.lastIndexOf('=');
    const user = entry.slice(0, equals).trim().toLowerCase();
    if (equals <= 0 || user === '') throw new Error(`not a grant: ${JSON.stringify(entry)} (expected user=domain|domain)`);
    const domains = entry
      .slice(equals + 1)
      .split('|')
      .map((d) => d.trim())
      .filter((d) => d !== '');
    if (domains.length === 0) throw new Error(`no domain in ${JSON.stringify(entry)} (expected user=domain|domain)`);
    const set = grants.get(user) ?? new Set<string>();
    for (const text of domains) {
      const domain = parseDomain(text);
      if (!holds.holds(domain)) throw new Error(`${domain} in ${JSON.stringify(entry)} is not held: add it to RELAY_HOLD_DOMAINS`);
      set.add(domain);
    }
    grants.set(user, set);
  }
  return grants;
}
