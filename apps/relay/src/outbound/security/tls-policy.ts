/**
 * What a receiving domain asks of the TLS its mail travels over, and whether a session meets it.
 *
 * A requirement comes from the domain's MTA-STS policy (mta-sts.ts) in `enforce` or `testing`
 * mode. `enforce`: only MX hosts the policy names are used, each over STARTTLS with a
 * certificate that chains to a trusted root and names the MX host; anything less leaves the
 * host, and the mail waits (never plaintext). `testing`: the same checks are made and
 * reported, and mail goes on as it would without the policy.
 *
 * Reads: the requirement, the next hops, a session's TLS parameters. Emits: the hops allowed,
 * and per session a result named as RFC 8460 (TLS-RPT) names them, for logs and metrics.
 */
import type { TlsInfo } from '@mailway/smtp/client';
import type { NextHop } from '../mx.js';
import { type StsPolicy, policyAllows } from './mta-sts-policy.js';

export type TlsRequirement =
  | { readonly kind: 'none' }
  | { readonly kind: 'mta-sts'; readonly domain: string; readonly id: string; readonly policy: StsPolicy & { readonly mode: 'enforce' | 'testing' } };

export const noRequirement: TlsRequirement = { kind: 'none' };

/** RFC 8460 §4.3 result types, and `success`. */
export type PolicyResultType =
  | 'success'
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure';

/** How one host fared against the domain's requirement. */
export interface PolicyResult {
  readonly policy: 'mta-sts';
  readonly mode: 'enforce' | 'testing';
  readonly host: string;
  readonly address: string;
  readonly result: PolicyResultType;
  readonly detail: string | null;
}

/** Whether the requirement must hold for mail to go (as opposed to being only reported). */
export function enforced(requirement: TlsRequirement): boolean {
  return requirement.kind === 'mta-sts' && requirement.policy.mode === 'enforce';
}

/** The hops the requirement lets mail go to, and those it does not (MX hosts the policy does not name). */
export function sortHops(requirement: TlsRequirement, hops: readonly NextHop[]): { readonly allowed: readonly NextHop[]; readonly refused: readonly NextHop[] } {
  if (requirement.kind !== 'mta-sts') return { allowed: hops, refused: [] };
  const allowed: NextHop[] = [];
  const refused: NextHop[] = [];
  for (const hop of hops) (policyAllows(requirement.policy, hop.host) ? allowed : refused).push(hop);
  return { allowed, refused };
}

/** The result for an MX host the policy does not name. */
export function refusedHost(requirement: TlsRequirement, hop: NextHop): PolicyResult | null {
  if (requirement.kind !== 'mta-sts') return null;
  return { policy: 'mta-sts', mode: requirement.policy.mode, host: hop.host, address: hop.address, result: 'validation-failure', detail: `MX host ${hop.host} is not named in the MTA-STS policy of ${requirement.domain} (id ${requirement.id})` };
}

/** Whether a session with `hop` (TLS parameters `tls`, null in plaintext) meets the requirement; null when there is none. */
export function checkSession(requirement: TlsRequirement, hop: NextHop, tls: TlsInfo | null): PolicyResult | null {
  if (requirement.kind !== 'mta-sts') return null;
  const result = (type: PolicyResultType, detail: string | null): PolicyResult => ({ policy: 'mta-sts', mode: requirement.policy.mode, host: hop.host, address: hop.address, result: type, detail });
  if (tls === null) return result('starttls-not-supported', `${hop.host} did not offer STARTTLS`);
  if (tls.authorized) return result('success', null);
  const error = tls.authorizationError ?? 'certificate not verified';
  return result(certificateResult(error), `certificate of ${hop.host} not verified: ${error}`);
}

/** The result for a session that could not be opened because of TLS (`tlsFailed`) or because STARTTLS was not offered. */
export function failedSession(requirement: TlsRequirement, hop: NextHop, why: 'starttls-not-supported' | 'handshake', detail: string): PolicyResult | null {
  if (requirement.kind !== 'mta-sts') return null;
  return { policy: 'mta-sts', mode: requirement.policy.mode, host: hop.host, address: hop.address, result: why === 'handshake' ? 'validation-failure' : 'starttls-not-supported', detail };
}

/** OpenSSL's and Node's verification errors as RFC 8460 result types. */
function certificateResult(error: string): PolicyResultType {
  if (error === 'ERR_TLS_CERT_ALTNAME_INVALID' || /altname|hostname/i.test(error)) return 'certificate-host-mismatch';
  if (error === 'CERT_HAS_EXPIRED' || error === 'CERT_NOT_YET_VALID') return 'certificate-expired';
  if (/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_CHAIN_TOO_LONG/.test(error)) return 'certificate-not-trusted';
  return 'validation-failure';
}
