#!/usr/bin/env node
/**
 * Mail Delivery Agent. Takes `delivery` jobs from the queue and stores each message in the
 * recipient's Maildir or mbox exactly once; expands aliases back into `transfer`; serves LMTP
 * (RFC 2033) so other MTAs can deliver into Mailway mailboxes. Never relays mail itself.
 *
 * Configuration comes from the environment (and MAILWAY_CONFIG, a JSON file); see config.ts.
 */
import { runAgentMain } from '@mailway/agent';
import { createDeliveryAgent } from './agent.js';
import { loadDeliveryConfig } from './config.js';

await runAgentMain('delivery', () => loadDeliveryConfig(), createDeliveryAgent);
