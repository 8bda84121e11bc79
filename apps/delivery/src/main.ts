#!/usr/bin/env node
/**
 * Mail Delivery Agent. Takes `delivery` jobs from the queue and stores each message in the
 * recipient's Maildir or mbox exactly once; expands aliases back into `transfer`; serves LMTP
 * (RFC 2033) so other MTAs can deliver into Mailway mailboxes. Never relays mail itself.
 *
 * Configuration comes from the environment (and MAILWAY_CONFIG, a JSON file); see config.ts.
 */
import { runAgent } from '@mailway/runtime';
import { createDeliveryAgent } from './agent.js';
import { loadDeliveryConfig } from './config.js';

await runAgent({
  name: 'delivery',
  loadConfig: () => loadDeliveryConfig(),
  logLevel: (config) => config.log.level,
  http: (config) => config.http,
  start: (config, context) => createDeliveryAgent(config, context),
  shutdownTimeoutMs: 60_000,
});
