/**
 * Sender authentication at end of data: every DKIM signature verified (RFC 6376), the ARC
 * chain validated (RFC 8617), and DMARC (RFC 7489) evaluated for the From domain with the SPF
 * result kept from MAIL FROM, all with mailauth over the given resolver. Emits the results and
 * the one Authentication-Results field (RFC 8601) naming this host that records them. With a
 * sealing key (RELAY_ARC_SEAL_*), also this hop's ARC set (ARC-Seal, ARC-Message-Signature,
 * ARC-Authentication-Results, RFC 8617 §4) over the message as received, so that what this host
 * saw survives a later forward; a chain that already failed is not sealed (§5.1.2), except
 * where its last hop said it passed (mailauth's shouldSeal).
 */
import type { ARCResult, DKIMVerifyResult, DMARCResult } from 'mailauth';
import type { DnsResolver } from './resolver.js';
import type { SpfResult } from './spf.js';

export interface Assessment {
  /** One result per DKIM signature, in the order they appear. */
  readonly dkim: DKIMVerifyResult['results'];
  readonly spf: SpfResult;
  readonly arc: ARCResult;
  /** false when the message has no single From address to evaluate. */
  readonly dmarc: DMARCResult | false;
  /** The From domain (lower-case), or null when there is not exactly one. */
  readonly fromDomain: string | null;
  /** The Authentication-Results field, folded, ending CRLF. */
  readonly field: string;
  /** This hop's ARC set (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results), empty when not sealing. */
  readonly seal: readonly string[];
}

/** The key this host seals with. */
export interface SealKey {
  readonly signingDomain: string;
  readonly selector: string;
  readonly privateKey: string;
}

/** Assess `message` (as received) whose SPF result is `spf`; `hostname` is the authserv-id. */
export async function assess(message: Buffer, spf: SpfResult, options: { readonly hostname: string; readonly sender: string; readonly resolver: DnsResolver; readonly seal?: SealKey | null }): Promise<Assessment> {
  const { resolver } = options;
  // Loaded on first use: a relay with sender authentication off never holds mailauth in memory.
  const { arc, dkimVerify, dmarc } = await import('mailauth');
  const sealing = options.seal ?? null;
  // With a key, the verifier also hashes the body as the seal will need it.
  const dkim = (await dkimVerify(message, { resolver, sender: options.sender, ...(sealing === null ? {} : { seal: { ...sealing } }) })) as DKIMVerifyResult & { arc: Parameters<typeof arc>[0]; seal?: Record<string, unknown>; headers: unknown };
  const arcResult = await arc(dkim.arc, { resolver });

  // DMARC: an identifier aligned with the From domain must have passed.
  const from = dkim.headerFrom.length === 1 ? (dkim.headerFrom[0] ?? '') : '';
  const fromDomain = from.includes('@') ? (from.split('@').pop() ?? '').toLowerCase() : null;
  const dmarcResult = fromDomain === null
    ? false
    : await dmarc({
        headerFrom: from,
        spfDomains: spf.status.result === 'pass' ? [spf.domain] : [],
        dkimDomains: dkim.results.filter((r) => r.status.result === 'pass').map((r) => ({ domain: r.signingDomain, ...(r.id === undefined ? {} : { id: r.id }), ...(r.status.aligned === undefined ? {} : { aligned: r.status.aligned }), ...(r.status.underSized === undefined ? {} : { underSized: r.status.underSized }) })),
        arcResult,
        resolver,
      });

  const rows = [...dkim.results.map((r) => r.info), spf.info, ...(arcResult.info === undefined ? [] : [arcResult.info]), ...(dmarcResult === false ? [] : [dmarcResult.info])];
  const value = `${options.hostname};\r\n ${rows.map(fold).join(';\r\n ')}`;
  const field = `Authentication-Results: ${value}\r\n`;

  // This hop's ARC set: instance one past the chain's, cv as validated.
  let seal: readonly string[] = [];
  const chainOk = arcResult.status.result === 'none' || arcResult.status.result === 'pass' || arcResult.status.shouldSeal === true;
  if (sealing !== null && dkim.seal !== undefined && chainOk) {
    const instance = (typeof arcResult.i === 'number' ? arcResult.i : 0) + 1;
    const { createSeal } = await import('mailauth/lib/arc/index.js');
    const created = await createSeal(false, { headers: dkim.headers, arc: dkim.arc, seal: { ...dkim.seal, i: instance, cv: arcResult.status.result, authResults: value, signTime: new Date() } });
    seal = created.headers;
  }
  return { dkim: dkim.results, spf, arc: arcResult, dmarc: dmarcResult, fromDomain, field, seal };
}

/** A result row folded at its spaces to lines of at most about 160 octets. */
function fold(row: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of row.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > 158) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join('\r\n  ');
}

/** `dkim=pass spf=pass dmarc=pass`, for the log. */
export function summaryOf(assessment: Assessment): string {
  const parts = [...assessment.dkim.map((r) => `dkim=${r.status.result}`), `spf=${assessment.spf.status.result}`];
  if (assessment.arc.status.result !== 'none') parts.push(`arc=${assessment.arc.status.result}`);
  if (assessment.dmarc !== false) parts.push(`dmarc=${assessment.dmarc.status.result}`);
  if (assessment.dkim.length === 0) parts.unshift('dkim=none');
  return parts.join(' ');
}
