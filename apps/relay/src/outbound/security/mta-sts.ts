/**
 * MTA-STS discovery (RFC 8461 §5.1): the policy a receiving domain publishes, through its
 * `_mta-sts` TXT record and its HTTPS policy file, with a cache shared by every relay process.
 *
 * - The TXT record gives the policy's id. A cached policy with that id is used as it is; a new
 *   id (the domain changed its policy) fetches the policy again.
 * - When the TXT record is missing or unreadable, or the fetch or the policy fails, an unexpired
 *   cached policy is used all the same (§5.1: an attacker who blocks the TXT lookup or the
 *   HTTPS fetch must not be able to turn a cached policy off); without one, there is no policy.
 * - Each process keeps what it found for a domain for a short while (`lookAgainMs`), so that a
 *   busy destination costs one TXT lookup now and then, not one per message.
 *
 * Reads and writes `<prefix>outbound:mta-sts:<domain>`: the id, the policy and the fetch time
 * as JSON, expiring with the policy's max_age (Redis deletes it then; nothing else owns it).
 * Emits: the policy to apply, or why there is none, and how it was found (for logs and metrics).
 */
import type { Redis } from 'ioredis';
import type { MxDns } from '../mx.js';
import { type PolicyFetchOptions, fetchPolicyText } from './mta-sts-fetch.js';
import { type StsPolicy, parsePolicy, parseStsRecord } from './mta-sts-policy.js';

/** The DNS this module needs: TXT for the record, addresses for the policy host. */
export interface StsDns extends Pick<MxDns, 'resolve4' | 'resolve6'> {
  resolveTxt(name: string): Promise<string[][]>;
}

/** How a lookup went: `fetched` and `cached` give a policy; the others none, or a cached one after a failure. */
export type StsSource = 'fetched' | 'cached' | 'cached_after_failure' | 'none' | 'failed';

export type StsLookup =
  | { readonly kind: 'policy'; readonly id: string; readonly policy: StsPolicy; readonly source: StsSource; readonly detail: string | null }
  | { readonly kind: 'none'; readonly source: StsSource; readonly detail: string };

export interface MtaStsOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly dns: StsDns;
  readonly fetch: Omit<PolicyFetchOptions, 'dns'>;
  /** How long a process reuses what it found for a domain (ms); 0 looks every time. */
  readonly lookAgainMs?: number;
}

interface Cached {
  readonly id: string;
  readonly policy: StsPolicy;
  readonly fetchedAt: string;
}

/** DNS answers that mean "no such record": no policy published. */
const absent = new Set(['ENOTFOUND', 'ENODATA']);

export class MtaStsPolicies {
  readonly #options: MtaStsOptions;
  readonly #seen = new Map<string, { readonly at: number; readonly found: Promise<StsLookup> }>();

  constructor(options: MtaStsOptions) {
    this.#options = options;
  }

  /** The policy of `domain` (lower-case A-labels), or why there is none. */
  policyFor(domain: string): Promise<StsLookup> {
    const lookAgainMs = this.#options.lookAgainMs ?? 60_000;
    const now = Date.now();
    const known = this.#seen.get(domain);
    if (known !== undefined && now - known.at < lookAgainMs) return known.found;
    const found = this.#lookUp(domain);
    if (lookAgainMs > 0) {
      if (this.#seen.size > 10_000) for (const [name, entry] of this.#seen) if (now - entry.at >= lookAgainMs) this.#seen.delete(name);
      this.#seen.set(domain, { at: now, found });
      // A lookup that failed (Redis away) is not kept: the next message asks again.
      found.catch(() => this.#seen.delete(domain));
    }
    return found;
  }

  async #lookUp(domain: string): Promise<StsLookup> {
    const key = `${this.#options.prefix}outbound:mta-sts:${domain}`;
    const cached = parseCached(await this.#options.redis.get(key));
    const fallback = (detail: string): StsLookup =>
      cached === null ? { kind: 'none', source: 'failed', detail } : { kind: 'policy', id: cached.id, policy: cached.policy, source: 'cached_after_failure', detail };

    // The TXT record: the policy's id.
    let records: string[][];
    try {
      records = await this.#options.dns.resolveTxt(`_mta-sts.${domain}`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | null)?.code ?? 'EUNKNOWN';
      if (absent.has(code)) return cached === null ? { kind: 'none', source: 'none', detail: `no _mta-sts.${domain} record` } : fallback(`no _mta-sts.${domain} record; the cached policy holds until it expires`);
      return fallback(`TXT lookup for _mta-sts.${domain} failed (${code})`);
    }
    const record = parseStsRecord(records);
    if (!record.ok) {
      // Another protocol's TXT records only: no policy published.
      if (record.error === 'no v=STSv1 record' && cached === null) return { kind: 'none', source: 'none', detail: `no v=STSv1 record at _mta-sts.${domain}` };
      return fallback(`_mta-sts.${domain}: ${record.error}`);
    }
    const { id } = record.value;
    if (cached !== null && cached.id === id) return { kind: 'policy', id, policy: cached.policy, source: 'cached', detail: null };

    // A policy not seen yet (or changed): fetch it.
    let text: string;
    try {
      text = await fetchPolicyText(domain, { ...this.#options.fetch, dns: this.#options.dns });
    } catch (error) {
      return fallback(`policy fetch failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const policy = parsePolicy(text);
    if (!policy.ok) return fallback(`invalid policy at https://mta-sts.${domain}/.well-known/mta-sts.txt: ${policy.error}`);

    // Cached for max_age; a max_age of 0 is used once and not kept.
    const entry: Cached = { id, policy: policy.value, fetchedAt: new Date().toISOString() };
    if (policy.value.maxAge > 0) await this.#options.redis.set(key, JSON.stringify(entry), 'PX', policy.value.maxAge * 1000);
    else await this.#options.redis.del(key);
    return { kind: 'policy', id, policy: policy.value, source: 'fetched', detail: null };
  }
}

/** A cache entry as stored, or null when there is none or it cannot be read (then it is fetched again). */
function parseCached(text: string | null): Cached | null {
  if (text === null) return null;
  try {
    const value = JSON.parse(text) as Partial<Cached>;
    const policy = value.policy;
    if (typeof value.id !== 'string' || policy === undefined || !Array.isArray(policy.mx) || typeof policy.maxAge !== 'number') return null;
    if (policy.mode !== 'enforce' && policy.mode !== 'testing' && policy.mode !== 'none') return null;
    return { id: value.id, policy, fetchedAt: String(value.fetchedAt ?? '') };
  } catch {
    return null;
  }
}
