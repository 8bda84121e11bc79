#!/usr/bin/env node
/**
 * Mail Transfer Agent (RFC 5321), in three roles (RELAY_ROLES): inbound, accepting mail for the
 * local domains from other MTAs on port 25 (and relaying for authenticated clients and
 * RELAY_NETWORKS only); router, sending each accepted recipient to local delivery or to the
 * outbound queue; outbound, delivering remote mail by MX, smart host or transport map, with
 * retries and notices to the sender.
 *
 * Configuration comes from the environment (and MAILWAY_CONFIG, a JSON file); see config.ts.
 */
import { runAgentMain } from '@mailway/agent';
import { createRelayAgent } from './agent.js';
import { loadRelayConfig } from './config.js';

await runAgentMain('relay', () => loadRelayConfig(), createRelayAgent);
