/**
 * The outbound settings that only make sense together: start-up stops, naming the key, when
 * smart host credentials could never be used (half given, no smart host, or TLS turned off so
 * that the client refuses to send them), or when the back-off bounds are the wrong way round.
 */
import { describe, expect, it } from 'vitest';
import { loadRelayConfig } from '../src/config.js';

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
  ])('%s stops start-up', (_name, env, message) => {
    expect(() => load(env)).toThrow(message);
  });

  it('a smart host with both credentials and TLS is accepted', () => {
    expect(() => load({ RELAY_SMARTHOST: '[smtp.isp.example]:587', RELAY_SMARTHOST_USER: 'relay', RELAY_SMARTHOST_PASSWORD: 'secret', RELAY_SMARTHOST_TLS: 'required' })).not.toThrow();
  });
});
