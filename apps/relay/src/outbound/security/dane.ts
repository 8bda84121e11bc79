/**
 * DANE for SMTP (RFC 7672): the TLSA records of a domain's MX hosts, trusted only when a
 * DNSSEC-validating resolver vouches for them (the AD bit).
 *
 * - At start the resolver is asked, in the background, for the DNSKEY of a name in a signed zone
 *   (`probeName`, the root by default): an answer without the AD bit means it does not
 *   validate, and DANE is off from then on, said once in the log. Until it answers, each domain
 *   is looked up all the same: only an answer with the AD bit ever turns DANE on.
 * - The domain's MX RRset must be secure, else its MX host names could be an attacker's and
 *   DANE is not used for it (§2.2.1); an MX lookup the resolver fails (SERVFAIL: a bogus answer)
 *   leaves every host unusable; a resolver that does not answer at all leaves DANE out for
 *   this attempt (logged), as mail could otherwise never leave while it is down.
 * - For each MX host whose address records are secure (§2.2.2), `_<port>._tcp.<host>` TLSA:
 *   secure records → the host must match them (dane-match.ts); records of no usable kind →
 *   TLS required, without authentication (§3.1.3); a secure denial → no DANE for the host; a
 *   failed lookup → the host is not used (§2.2.3: it may be an attack on the TLSA lookup).
 *
 * Reads: the validating resolver (dnssec-query.ts). Emits: per MX host, what DANE asks of
 * it; null when DANE does not apply to the domain (MTA-STS or opportunistic TLS then do).
 */
import type { Logger } from '@mailway/runtime';
import type { TlsaAnswer } from 'dns-packet';
import type { NextHop } from '../mx.js';
import type { DnssecResolver } from './dnssec-query.js';
import { type Tlsa, usable } from './dane-match.js';

export type DaneHost =
  /** Match these records. */
  | { readonly kind: 'tlsa'; readonly records: readonly Tlsa[] }
  /** TLSA published but none usable: encrypt, with any certificate. */
  | { readonly kind: 'encrypt' }
  /** DNSSEC failed for this host: do not use it. */
  | { readonly kind: 'unusable'; readonly detail: string };

export interface DaneRequirement {
  readonly domain: string;
  /** By MX host name; a host not here has no DANE (opportunistic TLS). */
  readonly hosts: ReadonlyMap<string, DaneHost>;
}

export interface DaneOptions {
  readonly resolver: DnssecResolver;
  /** The port TLSA records are looked up for (`_25._tcp`). */
  readonly port: number;
  /** A name in a signed zone whose DNSKEY the resolver must validate; '.' by default. */
  readonly probeName?: string;
  /** How long what was found for a domain and its MX hosts is reused (ms); 60 s by default, 0 looks every time. */
  readonly lookAgainMs?: number;
  readonly logger: Logger;
}

/** How long after a probe that got no answer the resolver is probed again. */
const probeAgainMs = 5 * 60_000;

export class DaneLookup {
  readonly #options: DaneOptions;
  /** What the probe found: the resolver validates, does not, or has not answered yet. */
  #validates: 'yes' | 'no' | 'unknown' = 'unknown';
  #probedAt = 0;
  #probing: Promise<void> | null = null;
  #saidSilent = false;
  /** What was found lately, by domain and MX hosts. */
  readonly #seen = new Map<string, { readonly at: number; readonly found: DaneRequirement | null }>();

  constructor(options: DaneOptions) {
    this.#options = options;
    this.#probe();
  }

  /** The probe's finding so far. */
  get validates(): 'yes' | 'no' | 'unknown' {
    return this.#validates;
  }

  /** Resolves once the probe under way (if any) has ended. */
  async probed(): Promise<void> {
    await this.#probing;
  }

  /** What DANE asks of each MX host of `domain` among `hops`; null when it does not apply. */
  async requirementFor(domain: string, hops: readonly NextHop[]): Promise<DaneRequirement | null> {
    if (this.#validates === 'no') return null;
    const lookAgainMs = this.#options.lookAgainMs ?? 60_000;
    const key = `${domain}|${[...new Set(hops.map((hop) => hop.host))].sort().join(',')}`;
    const now = Date.now();
    const seen = this.#seen.get(key);
    if (seen !== undefined && now - seen.at < lookAgainMs) return seen.found;
    const found = await this.#lookUp(domain, hops);
    if (found !== 'unanswered' && lookAgainMs > 0) {
      if (this.#seen.size > 10_000) for (const [name, entry] of this.#seen) if (now - entry.at >= lookAgainMs) this.#seen.delete(name);
      this.#seen.set(key, { at: now, found });
    }
    return found === 'unanswered' ? null : found;
  }

  /** The lookups themselves; `unanswered` when the resolver did not answer (not to be remembered). */
  async #lookUp(domain: string, hops: readonly NextHop[]): Promise<DaneRequirement | null | 'unanswered'> {
    if (this.#validates === 'unknown' && Date.now() - this.#probedAt > probeAgainMs) this.#probe();
    const { resolver, port, logger } = this.#options;

    // The MX RRset (or, for an implicit MX, the domain's own addresses) must be secure.
    const implicit = hops.every((hop) => hop.host === domain);
    const mx = await resolver.query(domain, implicit ? 'A' : 'MX').catch((error: unknown) => {
      logger.warn({ domain, err: error }, 'DANE left out for this attempt: the DNSSEC resolver did not answer');
      return null;
    });
    if (mx === null) return 'unanswered';
    if (mx.rcode === 'SERVFAIL') {
      const detail = `DNSSEC lookup of the MX records of ${domain} failed`;
      return { domain, hosts: new Map(hops.map((hop) => [hop.host, { kind: 'unusable', detail } as const])) };
    }
    if (!mx.secure) return null;

    // Each host: secure addresses, then its TLSA records.
    const hosts = new Map<string, DaneHost>();
    for (const host of new Set(hops.map((hop) => hop.host))) {
      const found = await this.#host(host, hops.find((hop) => hop.host === host)?.address.includes(':') === true ? 'AAAA' : 'A', port);
      if (found !== null) hosts.set(host, found);
    }
    return hosts.size === 0 ? null : { domain, hosts };
  }

  async #host(host: string, family: 'A' | 'AAAA', port: number): Promise<DaneHost | null> {
    const { resolver } = this.#options;
    const addresses = await resolver.query(host, family).catch(() => null);
    if (addresses === null || addresses.rcode === 'SERVFAIL') return { kind: 'unusable', detail: `DNSSEC lookup of the addresses of ${host} failed` };
    if (!addresses.secure) return null;
    const name = `_${port}._tcp.${host}`;
    const tlsa = await resolver.query(name, 'TLSA').catch(() => null);
    if (tlsa === null || (tlsa.rcode !== 'NOERROR' && tlsa.rcode !== 'NXDOMAIN')) return { kind: 'unusable', detail: `TLSA lookup of ${name} failed (${tlsa?.rcode ?? 'no answer'})` };
    if (!tlsa.secure || tlsa.records.length === 0) return null;
    const records = tlsa.records.map((answer) => {
      const data = (answer as TlsaAnswer).data;
      return { usage: data.usage, selector: data.selector, matchingType: data.matchingType, data: Buffer.from(data.certificate) };
    });
    return records.some(usable) ? { kind: 'tlsa', records } : { kind: 'encrypt' };
  }

  /** Asks the resolver, in the background, whether it validates. */
  #probe(): void {
    if (this.#probing !== null) return;
    const { resolver, logger } = this.#options;
    const name = this.#options.probeName ?? '.';
    this.#probedAt = Date.now();
    this.#probing = resolver
      .query(name, 'DNSKEY')
      .then((answer) => {
        // A refusal or a failure says nothing of validation: as if it had not answered.
        if (answer.rcode !== 'NOERROR') throw new Error(`the probe was answered ${answer.rcode}`);
        this.#validates = answer.secure ? 'yes' : 'no';
        if (answer.secure) logger.info({ probe: name }, 'DANE on: the DNSSEC resolver validates');
        // A resolver that answers but does not validate is not asked again.
        else logger.warn({ probe: name, rcode: answer.rcode }, 'DANE off: the DNSSEC resolver did not set the AD bit on a signed answer; it does not validate');
      })
      .catch((error: unknown) => {
        if (!this.#saidSilent) logger.info({ probe: name, err: error }, 'DNSSEC resolver did not answer the DANE probe; each domain is looked up all the same');
        this.#saidSilent = true;
      })
      .finally(() => {
        this.#probing = null;
      });
  }
}
