#!/usr/bin/env node
/**
 * Mail Transfer Agent, inbound side and router (RFC 5321). Accepts mail for the local domains
 * from other MTAs on port 25 (and relays for authenticated clients and RELAY_NETWORKS only),
 * spools it, enqueues a transfer job; its transfer worker routes every accepted message's
 * recipients to local delivery or to the outbound queue.
 *
 * Configuration comes from the environment (and MAILWAY_CONFIG, a JSON file); see config.ts.
 */
import { runAgent } from '@mailway/runtime';
import { createRelayAgent } from './agent.js';
import { loadRelayConfig } from './config.js';

await runAgent({
  name: 'relay',
  loadConfig: () => loadRelayConfig(),
  logLevel: (config) => config.log.level,
  http: (config) => config.http,
  start: (config, context) => createRelayAgent(config, context),
  shutdownTimeoutMs: 60_000,
});
