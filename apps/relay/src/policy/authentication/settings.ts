/**
 * Sender authentication on port 25, as configured: which checks run, which policies are
 * applied, whose word is trusted. One zod fragment, composed into the relay's section by
 * config.ts; every key is checked at start-up and a bad one is named.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { setting } from '@mailway/config/schema';

/** A DNS name: labels of letters, digits and hyphens, at least two of them. */
const dnsName = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** A list of DNS names, lower-cased, each checked. */
function names(env: string): z.ZodType<string[]> {
  return setting.list(env, []).superRefine((list, context) => {
    const bad = list.filter((name) => !dnsName.test(name));
    if (bad.length > 0) context.addIssue({ code: 'custom', message: `not a domain name: ${bad.join(', ')}` });
  }).transform((list) => list.map((name) => name.toLowerCase()));
}

export const authenticationSettings = z.object({
  /**
   * Apply the sending domain's DMARC policy (RFC 7489) to mail from clients that are neither
   * authenticated nor in RELAY_NETWORKS: reject, quarantine (the recipient's Junk folder) or
   * none. SPF, DKIM and ARC are checked for it and recorded in Authentication-Results.
   */
  dmarc: setting.bool('RELAY_DMARC', true),
  /** From domains (and their subdomains) whose DMARC policy is checked and recorded but not applied. */
  dmarcOverride: names('RELAY_DMARC_OVERRIDE_DOMAINS'),
  /** Refuse at MAIL FROM a reverse-path (or HELO name, for `<>`) whose SPF record says `-all` to this client. */
  spfRejectFail: setting.bool('RELAY_SPF_REJECT_FAIL', false),
  /** ARC sealers (RFC 8617, the `d=` of the newest ARC-Seal) whose word that the original authentication passed outweighs a DMARC failure. */
  arcTrustedSealers: names('RELAY_ARC_TRUSTED_SEALERS'),
  /** Seal what port 25 checks with this hop's ARC set (RFC 8617): the domain and selector of the key's DNS record. */
  arcSealDomain: setting.optionalString('RELAY_ARC_SEAL_DOMAIN').refine((value) => value === undefined || dnsName.test(value), 'expected a domain name'),
  arcSealSelector: setting.optionalString('RELAY_ARC_SEAL_SELECTOR').refine((value) => value === undefined || /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/i.test(value), 'expected a selector (a DNS label or labels)'),
  /** The sealing key: a PEM file (RSA or Ed25519), read at start-up. */
  arcSealKey: setting.optionalString('RELAY_ARC_SEAL_KEY').transform((path, context) => {
    if (path === undefined) return undefined;
    try {
      const pem = readFileSync(path, 'utf8');
      createPrivateKey(pem);
      return pem;
    } catch (error) {
      context.addIssue({ code: 'custom', message: `cannot read a private key from ${path}: ${error instanceof Error ? error.message : String(error)}` });
      return z.NEVER;
    }
  }),
  /** DNS block lists asked at connect (`zen.spamhaus.org`): a listed client is refused. */
  dnsblZones: names('RELAY_DNSBL_ZONES'),
  /** DNS allow lists asked first (`list.dnswl.org`): a listed client skips the block lists. */
  dnswlZones: names('RELAY_DNSWL_ZONES'),
  /** How long a block or allow list's answer about a client is kept in this process. */
  dnsblCacheTime: setting.duration('RELAY_DNSBL_CACHE_TIME', 5 * 60_000),
  /** Record DMARC evaluations and send the daily aggregate reports (RFC 7489 §7.2) to each domain's `rua`. */
  reports: setting.bool('RELAY_DMARC_REPORTS', false),
  /** The reporting organisation named in reports; MAILWAY_HOSTNAME when unset. */
  reportOrg: setting.optionalString('RELAY_DMARC_REPORT_ORG'),
  /** The reports' sender; `postmaster@` MAILWAY_HOSTNAME when unset. */
  reportFrom: setting.optionalString('RELAY_DMARC_REPORT_FROM').refine((value) => value === undefined || /^[^@\s<>]+@[^@\s<>]+$/.test(value), 'expected a mail address such as dmarc-reports@example.com'),
  /** How long recorded rows are kept when no report takes them (a relay that never sends). */
  reportRetention: setting.duration('RELAY_DMARC_REPORT_RETENTION', 3 * 24 * 3_600_000, { min: '1h' }),
  /** How often a relay looks for days whose reports are due. */
  reportCheckInterval: setting.duration('RELAY_DMARC_REPORT_CHECK_INTERVAL', 3_600_000, { min: '1s' }),
  /** Time allowed to one DNS query of these checks (each is tried twice); a timeout is a temporary failure. */
  dnsTimeout: setting.duration('RELAY_AUTH_DNS_TIMEOUT', 5_000, { min: '100ms' }),
}).superRefine((settings, context) => {
  // Sealing needs all three or none.
  const given = [settings.arcSealDomain, settings.arcSealSelector, settings.arcSealKey].filter((v) => v !== undefined).length;
  if (given !== 0 && given !== 3) {
    const missing = settings.arcSealDomain === undefined ? 'arcSealDomain' : settings.arcSealSelector === undefined ? 'arcSealSelector' : 'arcSealKey';
    context.addIssue({ code: 'custom', path: [missing], message: 'RELAY_ARC_SEAL_DOMAIN, RELAY_ARC_SEAL_SELECTOR and RELAY_ARC_SEAL_KEY go together: give all three or none' });
  }
});

export type AuthenticationSettings = z.infer<typeof authenticationSettings>;
