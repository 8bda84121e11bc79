/**
 * The outbound worker's settings, derived once from the relay's configuration: this host's
 * names and addresses (for MX loop detection), the router's next hops, the retry policy.
 */
import type { RelayConfig } from '../config.js';
import type { MxDns } from './mx.js';
import { parseNextHop, parseTransports } from './routes.js';
import { parseHoldDomains } from '../pull/domains.js';
import { trustedRoots } from './security/trust.js';
import type { OutboundSettings } from './worker.js';

/** `example.com=5,[smarthost]=10`: attempts at once for the destinations named. */
export function parseDestinationLimits(entries: readonly string[]): ReadonlyMap<string, number> {
  const limits = new Map<string, number>();
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    const destination = entry.slice(0, at).trim().toLowerCase();
    const limit = Number(entry.slice(at + 1).trim());
    if (at <= 0 || destination === '' || !Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new Error(`expected destination=limit (1 to 1000), got "${entry}"`);
    limits.set(destination, limit);
  }
  return limits;
}

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
    ...(relay.pull.holdDomains.length === 0 ? {} : { holds: parseHoldDomains(relay.pull.holdDomains).holds }),
    ...(outbound.tlsCa === undefined ? {} : { tlsCa: trustedRoots(outbound.tlsCa).join('\n') }),
    sessions: { perDestination: outbound.destinationConcurrency, limits: parseDestinationLimits(outbound.destinationLimits), idleTimeout: outbound.sessionIdle, maxAge: outbound.sessionReuseTime, maxMessages: outbound.sessionMessages, tlsFailureMemory: outbound.tlsFailureMemory, initialConcurrency: outbound.initialConcurrency, congestionMemory: outbound.congestionMemory },
  };
}
