#!/usr/bin/env node
/**
 * Mail Submission Agent (RFC 6409). Accepts mail from authenticated MUAs on 587/465, spools
 * it, enqueues a transfer job. Never delivers mail itself.
 *
 * Configuration comes from the environment (and MAILWAY_CONFIG, a JSON file); see config.ts.
 */
import { runAgent } from '@mailway/runtime';
import { createSubmissionAgent } from './agent.js';
import { loadSubmissionConfig } from './config.js';

await runAgent({
  name: 'submission',
  loadConfig: () => loadSubmissionConfig(),
  logLevel: (config) => config.log.level,
  http: (config) => config.http,
  start: (config, context) => createSubmissionAgent(config, context),
  shutdownTimeoutMs: 60_000,
});
