/**
 * DANE certificate checks (RFC 7672 §3.1, RFC 7671, RFC 6698 §2.1): whether the chain an SMTP
 * server presented matches one of its TLSA records.
 *
 * - DANE-EE (usage 3): the server's own certificate (selector 0) or public key (selector 1)
 *   matches; names and dates are not looked at (RFC 7672 §3.1.1).
 * - DANE-TA (usage 2): a certificate in the presented chain matches, the server's certificate
 *   chains up to it by signature, is within its dates and names the MX host (RFC 7672 §3.1.2).
 * - PKIX-TA (0) and PKIX-EE (1) are not for SMTP (RFC 7672 §3.1.3): unusable, as are unknown
 *   usages, selectors and matching types. Matching types: 0 the data itself, 1 SHA-256, 2 SHA-512.
 *
 * Reads: TLSA record data, the DER certificates of the chain as sent (server's first). Emits:
 * a match (with the record that matched) or why there is none. No I/O.
 */
import { X509Certificate, createHash } from 'node:crypto';

export interface Tlsa {
  readonly usage: number;
  readonly selector: number;
  readonly matchingType: number;
  readonly data: Buffer;
}

export type DaneMatch = { readonly ok: true; readonly record: Tlsa } | { readonly ok: false; readonly reason: string };

/** Whether a TLSA record is one DANE for SMTP can use (RFC 7672 §3.1.3). */
export function usable(record: Tlsa): boolean {
  return (record.usage === 2 || record.usage === 3) && (record.selector === 0 || record.selector === 1) && [0, 1, 2].includes(record.matchingType);
}

/** Whether `chain` (DER, the server's certificate first) matches one of `records` for MX host `host`. */
export function matchChain(records: readonly Tlsa[], chain: readonly Buffer[], host: string, now: Date = new Date()): DaneMatch {
  const certificates = chain.map((der) => new X509Certificate(der));
  const leaf = certificates[0];
  if (leaf === undefined) return { ok: false, reason: 'no certificate presented' };
  const reasons: string[] = [];

  // DANE-EE: the server's own certificate or key.
  for (const record of records.filter((r) => usable(r) && r.usage === 3)) {
    if (matches(record, leaf)) return { ok: true, record };
  }
  if (records.some((r) => usable(r) && r.usage === 3)) reasons.push('no DANE-EE record matches the server certificate');

  // DANE-TA: an issuer in the presented chain, then the path from the leaf to it.
  for (const record of records.filter((r) => usable(r) && r.usage === 2)) {
    const anchor = certificates.findIndex((certificate, i) => i > 0 && matches(record, certificate));
    if (anchor < 0) {
      reasons.push('no certificate in the chain matches the DANE-TA record');
      continue;
    }
    const path = verifyPath(certificates.slice(0, anchor + 1));
    if (path !== null) {
      reasons.push(path);
      continue;
    }
    if (now < new Date(leaf.validFrom) || now > new Date(leaf.validTo)) {
      reasons.push(`server certificate not valid now (${leaf.validFrom} to ${leaf.validTo})`);
      continue;
    }
    if (leaf.checkHost(host, { wildcards: true, partialWildcards: false }) === undefined) {
      reasons.push(`server certificate does not name ${host}`);
      continue;
    }
    return { ok: true, record };
  }
  if (!records.some(usable)) return { ok: false, reason: 'no usable TLSA record (only PKIX usages or unknown parameters)' };
  return { ok: false, reason: reasons.join('; ') };
}

/** Whether `certificate` is what `record` describes. */
function matches(record: Tlsa, certificate: X509Certificate): boolean {
  const selected = record.selector === 0 ? certificate.raw : certificate.publicKey.export({ type: 'spki', format: 'der' });
  const digest = record.matchingType === 0 ? selected : createHash(record.matchingType === 1 ? 'sha256' : 'sha512').update(selected).digest();
  return digest.length === record.data.length && digest.equals(record.data);
}

/** Null when each certificate of `path` is issued and signed by the next; else what breaks. */
function verifyPath(path: readonly X509Certificate[]): string | null {
  for (let i = 0; i + 1 < path.length; i += 1) {
    const child = path[i] as X509Certificate;
    const parent = path[i + 1] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return `certificate ${i} of the chain is not signed by certificate ${i + 1}`;
    if (i + 1 < path.length - 1 && !parent.ca) return `certificate ${i + 1} of the chain is not a CA`;
  }
  return null;
}
