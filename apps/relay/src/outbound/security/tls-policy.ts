/**
 * What a receiving domain asks of the TLS its mail travels over, and whether a session meets it.
 *
 * A requirement comes from DANE (dane.ts) or, without it, from the domain's MTA-STS policy
 * (mta-sts.ts) in `enforce` or `testing` mode; DANE takes precedence (RFC 8461 §2).
 * - MTA-STS `enforce`: only MX hosts the policy names are used, each over STARTTLS with a
 *   certificate that chains to a trusted root and names the MX host. `testing`: the same checks
 *   are made and reported, and mail goes on as it would without the policy.
 * - DANE: each MX host with TLSA records is used only over STARTTLS with a certificate chain
 *   matching them (dane-match.ts); a host whose DNSSEC lookups failed is not used; hosts
 *   without TLSA records get opportunistic TLS.
 * Anything less leaves the host, and the mail waits: never plaintext where a policy holds.
 *
 * Reads: the requirement, the next hops, a session's TLS parameters. Emits: the hops allowed,
 * and per host a result named as RFC 8460 (TLS-RPT) names them, for logs, metrics and reports.
 */
import type { DetailedPeerCertificate } from 'node:tls';
import type { TlsInfo } from '@mailway/smtp/client';
import type { NextHop } from '../mx.js';
import type { DaneRequirement } from './dane.js';
import { matchChain } from './dane-match.js';
import { type StsPolicy, policyAllows } from './mta-sts-policy.js';

export type TlsRequirement =
  | { readonly kind: 'none' }
  | { readonly kind: 'mta-sts'; readonly domain: string; readonly id: string; readonly policy: StsPolicy & { readonly mode: 'enforce' | 'testing' } }
  | ({ readonly kind: 'dane' } & DaneRequirement);

export const noRequirement: TlsRequirement = { kind: 'none' };

/** RFC 8460 §4.3 result types, and `success`. */
export type PolicyResultType =
  | 'success'
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid';

/** How one host fared against the domain's requirement. */
export interface PolicyResult {
  readonly policy: 'mta-sts' | 'dane';
  readonly mode: 'enforce' | 'testing';
  readonly host: string;
  readonly address: string;
  readonly result: PolicyResultType;
  readonly detail: string | null;
}

/** Whether the requirement can hold mail back (as opposed to being only reported). */
export function enforced(requirement: TlsRequirement): boolean {
  return requirement.kind === 'dane' || (requirement.kind === 'mta-sts' && requirement.policy.mode === 'enforce');
}

/** Whether the requirement must hold for a session with `hop` to carry mail. */
export function enforcedFor(requirement: TlsRequirement, hop: NextHop): boolean {
  if (requirement.kind === 'dane') return requirement.hosts.has(hop.host);
  return enforced(requirement);
}

/** The hops the requirement lets mail go to, and those it does not. */
export function sortHops(requirement: TlsRequirement, hops: readonly NextHop[]): { readonly allowed: readonly NextHop[]; readonly refused: readonly NextHop[] } {
  if (requirement.kind === 'none') return { allowed: hops, refused: [] };
  const allowed: NextHop[] = [];
  const refused: NextHop[] = [];
  for (const hop of hops) (hostAllowed(requirement, hop) ? allowed : refused).push(hop);
  return { allowed, refused };
}

function hostAllowed(requirement: TlsRequirement, hop: NextHop): boolean {
  if (requirement.kind === 'mta-sts') return policyAllows(requirement.policy, hop.host);
  if (requirement.kind === 'dane') return requirement.hosts.get(hop.host)?.kind !== 'unusable';
  return true;
}

/** The result for a host the requirement does not let mail go to. */
export function refusedHost(requirement: TlsRequirement, hop: NextHop): PolicyResult | null {
  if (requirement.kind === 'mta-sts') return { policy: 'mta-sts', mode: requirement.policy.mode, host: hop.host, address: hop.address, result: 'validation-failure', detail: `MX host ${hop.host} is not named in the MTA-STS policy of ${requirement.domain} (id ${requirement.id})` };
  if (requirement.kind === 'dane') {
    const host = requirement.hosts.get(hop.host);
    return { policy: 'dane', mode: 'enforce', host: hop.host, address: hop.address, result: 'dnssec-invalid', detail: host?.kind === 'unusable' ? host.detail : null };
  }
  return null;
}

/** What the requirement is called in diagnostics. */
export function requirementName(requirement: TlsRequirement): string {
  return requirement.kind === 'dane' ? 'DANE' : requirement.kind === 'mta-sts' ? 'MTA-STS policy' : 'no policy';
}

/** Whether a session with `hop` (TLS parameters `tls`, null in plaintext) meets the requirement; null when none applies to the host. */
export function checkSession(requirement: TlsRequirement, hop: NextHop, tls: TlsInfo | null): PolicyResult | null {
  if (requirement.kind === 'none') return null;
  const dane = requirement.kind === 'dane' ? requirement.hosts.get(hop.host) : undefined;
  if (requirement.kind === 'dane' && dane === undefined) return null;
  const mode = requirement.kind === 'mta-sts' ? requirement.policy.mode : 'enforce';
  const result = (type: PolicyResultType, detail: string | null): PolicyResult => ({ policy: requirement.kind === 'dane' ? 'dane' : 'mta-sts', mode, host: hop.host, address: hop.address, result: type, detail });
  if (tls === null) return result('starttls-not-supported', `${hop.host} did not offer STARTTLS`);

  // DANE: the chain against the TLSA records; records of no usable kind ask only for encryption.
  if (dane !== undefined) {
    if (dane.kind !== 'tlsa') return result('success', null);
    const match = matchChain(dane.records, chainOf(tls.peerCertificate), hop.host);
    return match.ok ? result('success', null) : result('validation-failure', `certificate of ${hop.host} does not match its TLSA records: ${match.reason}`);
  }

  // MTA-STS: the chain to a trusted root, and the MX host's name (Node's own checks).
  if (tls.authorized) return result('success', null);
  const error = tls.authorizationError ?? 'certificate not verified';
  return result(certificateResult(error), `certificate of ${hop.host} not verified: ${error}`);
}

/** The result for a session that could not be opened because of TLS (`handshake`) or because STARTTLS was not offered. */
export function failedSession(requirement: TlsRequirement, hop: NextHop, why: 'starttls-not-supported' | 'handshake', detail: string): PolicyResult | null {
  if (requirement.kind === 'none' || (requirement.kind === 'dane' && !requirement.hosts.has(hop.host))) return null;
  const mode = requirement.kind === 'mta-sts' ? requirement.policy.mode : 'enforce';
  return { policy: requirement.kind, mode, host: hop.host, address: hop.address, result: why === 'handshake' ? 'validation-failure' : 'starttls-not-supported', detail };
}

/** The DER certificates a server sent, its own first (Node links each to its issuer; a root links to itself). */
function chainOf(certificate: TlsInfo['peerCertificate']): Buffer[] {
  const chain: Buffer[] = [];
  let current = certificate as DetailedPeerCertificate | null;
  while (current?.raw !== undefined && chain.length < 10) {
    if (chain.some((der) => der.equals(current?.raw as Buffer))) break;
    chain.push(current.raw);
    current = current.issuerCertificate ?? null;
  }
  return chain;
}

/** OpenSSL's and Node's verification errors as RFC 8460 result types. */
function certificateResult(error: string): PolicyResultType {
  if (error === 'ERR_TLS_CERT_ALTNAME_INVALID' || /altname|hostname/i.test(error)) return 'certificate-host-mismatch';
  if (error === 'CERT_HAS_EXPIRED' || error === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_CHAIN_TOO_LONG/.test(error)) return 'certificate-not-trusted';
  return 'validation-failure';
}
