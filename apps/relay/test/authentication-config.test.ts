/**
 * Sender authentication settings: defaults (DMARC applied, SPF failures only recorded, no DNS
 * lists), names read in lower case, and start-up stopped, naming the key, by a value that is
 * not what it should be.
 */
import { describe, expect, it } from 'vitest';
import { loadRelayConfig } from '../src/config.js';

const load = (env: Record<string, string>) => loadRelayConfig({ env: { MAILWAY_HOSTNAME: 'mx.local.example', ...env }, file: null });

describe('sender authentication settings', () => {
  it('defaults: DMARC on, SPF failures recorded only, no DNS lists, answers kept 5 minutes', () => {
    expect(load({}).relay.authentication).toEqual({ dmarc: true, dmarcOverride: [], spfRejectFail: false, arcTrustedSealers: [], dnsblZones: [], dnswlZones: [], dnsblCacheTime: 300_000, dnsTimeout: 5_000, reports: false, reportRetention: 259_200_000, reportCheckInterval: 3_600_000 });
  });

  it('reads domain lists in lower case', () => {
    const settings = load({ RELAY_DNSBL_ZONES: 'Zen.Spamhaus.org, bl.test', RELAY_ARC_TRUSTED_SEALERS: 'Google.com', RELAY_DMARC_OVERRIDE_DOMAINS: 'partner.example' }).relay.authentication;
    expect(settings.dnsblZones).toEqual(['zen.spamhaus.org', 'bl.test']);
    expect(settings.arcTrustedSealers).toEqual(['google.com']);
    expect(settings.dmarcOverride).toEqual(['partner.example']);
  });

  it.each([
    ['a zone that is not a domain name', { RELAY_DNSBL_ZONES: 'bl.test,not a zone' }, /RELAY_DNSBL_ZONES.*not a domain name: not a zone/],
    ['an allow list that is not a domain name', { RELAY_DNSWL_ZONES: 'localhost' }, /RELAY_DNSWL_ZONES.*not a domain name: localhost/],
    ['a sealer that is not a domain name', { RELAY_ARC_TRUSTED_SEALERS: 'lists..example' }, /RELAY_ARC_TRUSTED_SEALERS/],
    ['an override that is not a domain name', { RELAY_DMARC_OVERRIDE_DOMAINS: '*.example' }, /RELAY_DMARC_OVERRIDE_DOMAINS/],
    ['DMARC neither on nor off', { RELAY_DMARC: 'sometimes' }, /RELAY_DMARC\b/],
    ['a DNS timeout below 100ms', { RELAY_AUTH_DNS_TIMEOUT: '10ms' }, /RELAY_AUTH_DNS_TIMEOUT/],
    ['a report sender that is not an address', { RELAY_DMARC_REPORT_FROM: 'reports' }, /RELAY_DMARC_REPORT_FROM.*mail address/],
    ['a report retention under an hour', { RELAY_DMARC_REPORT_RETENTION: '5m' }, /RELAY_DMARC_REPORT_RETENTION/],
    ['a cache time that is not a duration', { RELAY_DNSBL_CACHE_TIME: 'a while' }, /RELAY_DNSBL_CACHE_TIME/],
  ])('%s stops start-up', (_name, env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});
