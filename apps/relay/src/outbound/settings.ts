/**
 * The outbound worker's settings, derived once from the relay's configuration: this host's
 * names and addresses (for MX loop detection), the router's next hops, the retry policy.
 */
import type { RelayConfig } from '../config.js';
import type { MxDns } from './mx.js';
import { parseNextHop, parseTransports } from './routes.js';
import type { OutboundSettings } from './worker.js';

/** Settings for `createOutboundWorker`, resolving names through `dns`. */
export function outboundSettingsFrom(config: RelayConfig, dns: MxDns): OutboundSettings {
  const relay = config.relay;
  const outbound = relay.outbound;
  // The inbound listener's own address counts as this host, unless it listens on every address.
  const listening = relay.host === '0.0.0.0' || relay.host === '::' ? [] : [relay.host];
  const auth = outbound.smarthostUser !== undefined && outbound.smarthostPassword !== undefined ? { user: outbound.smarthostUser, pass: outbound.smarthostPassword } : null;
  return {
    hostname: config.hostname,
    helo: outbound.helo ?? config.hostname,
    router: {
      dns,
      ownNames: [config.hostname, ...outbound.ownNames],
      ownAddresses: [...listening, ...outbound.ownAddresses],
      addressOrder: outbound.addressOrder,
      smarthost: outbound.smarthost === undefined ? null : parseNextHop(outbound.smarthost),
      transports: parseTransports(outbound.transports),
      port: outbound.port,
    },
    retry: {
      minBackoff: outbound.backoffMin,
      maxBackoff: outbound.backoffMax,
      lifetime: outbound.queueLifetime,
      bounceLifetime: outbound.bounceLifetime,
      delayWarning: outbound.delayWarning,
    },
    maxHosts: outbound.maxHosts,
    bind: { ...(outbound.bindAddress === undefined ? {} : { ipv4: outbound.bindAddress }), ...(outbound.bindAddress6 === undefined ? {} : { ipv6: outbound.bindAddress6 }) },
    startTls: outbound.tls,
    smarthost: { auth, startTls: outbound.smarthostTls },
    returnLimit: outbound.bounceReturnLimit,
    sessions: { perDestination: outbound.destinationConcurrency, idleTimeout: outbound.sessionIdle, maxAge: outbound.sessionReuseTime, maxMessages: outbound.sessionMessages },
  };
}
