/**
 * The outbound settings that only make sense together: start-up stops, naming the key, when
 * smart host credentials could never be used (half given, no smart host, or TLS turned off so
 * that the client refuses to send them), when the back-off bounds are the wrong way round, when
 * a next hop names a UNIX-domain socket Mailway cannot use, when a destination limit is not one,
 * or when destination leases would lapse between renewals; and the settings of mail its site
 * pulls: held domains that are not domains, ETRN networks that are not networks, ODMR grants
 * without domains or for domains that are not held.
 */
import { Resolver } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { loadRelayConfig } from '../src/config.js';
import { parseTransports } from '../src/outbound/routes.js';
import { outboundSettingsFrom } from '../src/outbound/settings.js';

const load = (env: Record<string, string>): unknown => loadRelayConfig({ env: { MAILWAY_HOSTNAME: 'mx.local.example', ...env }, file: null });

describe('outbound settings checked together', () => {
  it.each([
    ['a user without a password', { RELAY_SMARTHOST: '[smtp.isp.example]:587', RELAY_SMARTHOST_USER: 'relay' }, /RELAY_SMARTHOST_PASSWORD.*both or neither/],
    ['a password without a user', { RELAY_SMARTHOST: '[smtp.isp.example]:587', RELAY_SMARTHOST_PASSWORD: 'secret' }, /RELAY_SMARTHOST_USER.*both or neither/],
    ['credentials without a smart host', { RELAY_SMARTHOST_USER: 'relay', RELAY_SMARTHOST_PASSWORD: 'secret' }, /RELAY_SMARTHOST_USER.*RELAY_SMARTHOST is not set/],
    ['credentials with TLS turned off', { RELAY_SMARTHOST: '[smtp.isp.example]:587', RELAY_SMARTHOST_USER: 'relay', RELAY_SMARTHOST_PASSWORD: 'secret', RELAY_SMARTHOST_TLS: 'never' }, /RELAY_SMARTHOST_TLS.*never sent without TLS/],
    ['a minimum back-off above the maximum', { RELAY_BACKOFF_MIN: '2h', RELAY_BACKOFF_MAX: '1h' }, /RELAY_BACKOFF_MAX.*at least RELAY_BACKOFF_MIN/],
    ['a source address that is not IPv4', { RELAY_OUTBOUND_BIND_ADDRESS: '::1' }, /RELAY_OUTBOUND_BIND_ADDRESS.*IPv4/],
    ['an IPv6 source address that is not IPv6', { RELAY_OUTBOUND_BIND_ADDRESS6: 'mail.example' }, /RELAY_OUTBOUND_BIND_ADDRESS6.*IPv6/],
    ['a socket for SMTP', { RELAY_TRANSPORTS: 'lists.test=smtp:unix:/run/lmtp' }, /RELAY_TRANSPORTS.*for LMTP only/],
    ['a relative socket path', { RELAY_TRANSPORTS: 'lists.test=lmtp:unix:private/lmtp' }, /RELAY_TRANSPORTS.*not an absolute socket path/],
    ['a destination limit without a number', { RELAY_OUTBOUND_DESTINATION_LIMITS: 'example.com=5,lists.test' }, /RELAY_OUTBOUND_DESTINATION_LIMITS.*destination=limit/],
    ['a destination limit of 0', { RELAY_OUTBOUND_DESTINATION_LIMITS: 'example.com=0' }, /RELAY_OUTBOUND_DESTINATION_LIMITS.*destination=limit/],
    ['a lease renewed less often than twice in its length', { RELAY_OUTBOUND_DESTINATION_LEASE: '1m', RELAY_OUTBOUND_DESTINATION_LEASE_RENEW: '45s' }, /RELAY_OUTBOUND_DESTINATION_LEASE_RENEW.*half/],
    ['a held domain that is not a domain', { RELAY_HOLD_DOMAINS: 'site.test,exa mple.com' }, /RELAY_HOLD_DOMAINS.*not a domain name: "exa mple.com"/],
    ['an ETRN network that is not one', { RELAY_ETRN_NETWORKS: '192.0.2.0/33' }, /RELAY_ETRN_NETWORKS/],
    ['an ODMR grant without domains', { RELAY_HOLD_DOMAINS: 'site.test', RELAY_ODMR_USERS: 'bob@local.example=' }, /RELAY_ODMR_USERS.*no domain/],
    ['an ODMR grant for a domain that is not held', { RELAY_HOLD_DOMAINS: 'site.test', RELAY_ODMR_USERS: 'bob@local.example=site.test|other.test' }, /RELAY_ODMR_USERS.*other\.test.*not held: add it to RELAY_HOLD_DOMAINS/],
    ['an ODMR port out of range', { RELAY_ODMR_PORT: '70000' }, /RELAY_ODMR_PORT/],
    ['a socket path too long for a socket address', { RELAY_TRANSPORTS: `lists.test=lmtp:unix:/${'x'.repeat(107)}` }, /RELAY_TRANSPORTS.*longer than 107 bytes/],
    ['a trust-root file that does not exist', { RELAY_OUTBOUND_TLS_CA: '/nonexistent/ca.pem' }, /RELAY_OUTBOUND_TLS_CA.*cannot read \/nonexistent\/ca.pem: ENOENT/],
    ['a trust-root file without a certificate', { RELAY_OUTBOUND_TLS_CA: '/etc/hostname' }, /RELAY_OUTBOUND_TLS_CA.*holds no PEM certificate/],
    ['an MTA-STS switch that is not a boolean', { RELAY_OUTBOUND_MTA_STS: 'maybe' }, /RELAY_OUTBOUND_MTA_STS.*expected true or false/],
  ])('%s stops start-up', (_name, env, message) => {
    expect(() => load(env)).toThrow(message);
  });

  it('an LMTP socket of this host is a next hop of its own, taken as written', () => {
    const config = loadRelayConfig({ env: { MAILWAY_HOSTNAME: 'mx.local.example', RELAY_TRANSPORTS: 'lists.test=lmtp:unix:/run/dovecot/lmtp' }, file: null });
    expect(parseTransports(config.relay.outbound.transports).get('lists.test')).toEqual({ protocol: 'lmtp', host: 'localhost', port: null, mx: false, path: '/run/dovecot/lmtp' });
  });

  it('destination limits are read per destination, names in lower case', () => {
    const config = loadRelayConfig({ env: { MAILWAY_HOSTNAME: 'mx.local.example', RELAY_OUTBOUND_DESTINATION_LIMITS: 'Example.com=5, [smarthost]=40' }, file: null });
    expect(outboundSettingsFrom(config, new Resolver()).sessions.limits).toEqual(new Map([['example.com', 5], ['[smarthost]', 40]]));
  });

  it('a smart host with both credentials and TLS is accepted', () => {
    expect(() => load({ RELAY_SMARTHOST: '[smtp.isp.example]:587', RELAY_SMARTHOST_USER: 'relay', RELAY_SMARTHOST_PASSWORD: 'secret', RELAY_SMARTHOST_TLS: 'required' })).not.toThrow();
  });
});
